# bench_learn.py: a script whose modules are outside the built-in profile (sqlite3, xml.dom.minidom, http.server, zoneinfo, tomllib); `make bench` times it before and after `pywarmctl learn --write`.
import http.server
import sqlite3
import tomllib
import xml.dom.minidom
import zoneinfo

db = sqlite3.connect(":memory:")
db.execute("create table t (k text, v text)")
db.execute("insert into t values (?, ?)", ("zone", str(zoneinfo.ZoneInfo("UTC"))))
doc = xml.dom.minidom.parseString("<a><b>%s</b></a>" % db.execute("select v from t").fetchone()[0])
conf = tomllib.loads('name = "%s"' % doc.getElementsByTagName("b")[0].firstChild.data)
print(conf["name"], http.server.BaseHTTPRequestHandler.server_version)
