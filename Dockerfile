# hamgam's Airflow image (docker-compose.yaml builds it; README, Deploy).
#
# runtime: what production runs. The official slim Airflow image, tagged with the Airflow version requirements.txt
#   pins (tests/deploy/test_compose.py keeps the two equal), plus requirements.txt and the hamgam package, dags/ and
#   plugins/. Nothing of the test or development tooling (requirements-dev.txt, the sandbox, the demo generator).
# dev: runtime plus the Payamgostar sandbox (pg_sandbox), the demo Tadbir generator (tadbir_demo) and hamgam_dev,
#   for the compose file's `dev` profile only.

FROM apache/airflow:slim-3.3.2-python3.11 AS runtime

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    HAMGAM_CONFIG=/opt/hamgam/config/hamgam.yaml

# hamgam's files live under /opt/hamgam, owned by the image's airflow user (pip builds the package in place there)
USER 0
RUN mkdir -p /opt/hamgam && chown airflow:0 /opt/hamgam
# 50000: the image's airflow user
USER 50000

# requirements.txt is `make lock`'s full pin set (uv pip compile of requirements.in): every package, Airflow itself
# at the image's version, at the versions the test suite ran. It plays the part Airflow's constraints file plays in
# the official instructions (pip cannot move Airflow or a provider), with hamgam's own tested versions instead of
# Airflow's. pip still resolves (no --no-deps), so a lock that does not fit together fails here, not at run time;
# `pip check` then fails the build if what the base image brought conflicts with the lock.
COPY --chown=airflow:0 requirements.txt /opt/hamgam/requirements.txt
RUN pip install -r /opt/hamgam/requirements.txt && pip check

# the runtime package only: setuptools finds the packages under include/, and only hamgam is copied there
COPY --chown=airflow:0 pyproject.toml /opt/hamgam/src/pyproject.toml
COPY --chown=airflow:0 include/hamgam /opt/hamgam/src/include/hamgam
RUN pip install --no-deps /opt/hamgam/src

COPY --chown=airflow:0 dags/ /opt/airflow/dags/
COPY --chown=airflow:0 plugins/ /opt/airflow/plugins/
# the settings as shipped; docker-compose.yaml mounts the site's config/ over them, read-only
COPY --chown=airflow:0 config/ /opt/hamgam/config/
# the simple auth manager's generated passwords, kept on a volume (docker-compose.yaml)
RUN mkdir -p /opt/airflow/auth


FROM runtime AS dev

COPY --chown=airflow:0 include/pg_sandbox /opt/hamgam/src/include/pg_sandbox
COPY --chown=airflow:0 include/tadbir_demo /opt/hamgam/src/include/tadbir_demo
COPY --chown=airflow:0 include/hamgam_dev /opt/hamgam/src/include/hamgam_dev
RUN pip install --no-deps /opt/hamgam/src && mkdir -p /opt/airflow/sandbox
