# bench_learn_imports.py: bench_learn.py's imports alone (sqlite3, xml.dom.minidom, http.server, zoneinfo, tomllib), without its work; `make bench` times it against `pywarm -c pass` once a profile learned them.
import http.server
import sqlite3
import tomllib
import xml.dom.minidom
import zoneinfo
