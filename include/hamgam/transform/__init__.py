"""Pure transformation helpers shared by the Tadbir ⇄ Payamgostar flows.

Modules:

* :mod:`hamgam.transform.text`      Persian text normalisation (Saman digits, Arabic letters), scalar and
  vectorised over pandas Series.
* :mod:`hamgam.transform.codes`     Iranian identifier checksums (national code, national id, postal and
  economic codes) and log masking.
* :mod:`hamgam.transform.phones`    Splitting Tadbir's single phone field into validated phone numbers.
* :mod:`hamgam.transform.numbering` Payamgostar numbering templates: format and parse item numbers.

Everything here is free of I/O and side effects.
"""
