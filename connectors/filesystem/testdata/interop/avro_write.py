# Writes an Avro object container file (deflate codec) with the Apache Avro Python library.
import sys

import avro.datafile
import avro.io
import avro.schema

schema = avro.schema.parse("""{"type": "record", "name": "r", "fields": [
  {"name": "id", "type": "long"},
  {"name": "name", "type": ["null", "string"], "default": null},
  {"name": "score", "type": "double"},
  {"name": "extra", "type": "int", "default": 0}]}""")
with open(sys.argv[1], "wb") as f:
    w = avro.datafile.DataFileWriter(f, avro.io.DatumWriter(), schema, codec="deflate")
    for i in range(3):
        w.append({"id": i, "name": None if i == 2 else "n%d" % i, "score": i * 1.5, "extra": 7})
    w.close()
