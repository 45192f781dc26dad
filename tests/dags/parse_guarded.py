"""Parse the project's DAG files with every database and network door shut; print what was built.

Run as a script by test_dag_integrity.py: any connection attempt at parse time raises, and the script
reports the modules that parsing pulled in.
"""

import json
import runpy
import socket
import sqlite3
import sys
from pathlib import Path


class ParseTimeIO(RuntimeError):
    pass


def refuse(what):
    def _refuse(*args, **kwargs):
        raise ParseTimeIO(f"{what} at DAG-parse time")
    return _refuse


socket.socket.connect = refuse("network connection")
socket.create_connection = refuse("network connection")
sqlite3.connect = refuse("sqlite connection")

dags = {}
for path in sorted(Path(sys.argv[1]).glob("*.py")):
    namespace = runpy.run_path(str(path))
    dags.update({name: type(value).__name__ for name, value in namespace.items()
                 if type(value).__name__ == "DAG"})
heavy = sorted(m for m in ("pandas", "great_expectations", "requests", "psycopg", "pymssql") if m in sys.modules)
print(json.dumps({"dags": sorted(dags), "heavy_modules": heavy}))
