"""The data team's page in the Airflow UI: what the ledger holds per company and entity, the records that need a
person, resend, the webhook event log and a chart (``hamgam.webapp.dashboard`` serves it behind Airflow's login).

``overview`` and ``records`` read the ledger; ``resend`` changes it (and nothing else); ``chart`` draws SVG;
``page`` renders HTML. None of them imports Airflow.
"""
