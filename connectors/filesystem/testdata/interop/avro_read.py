# Reads an Avro object container file with the Apache Avro Python library (Debian's python3-avro) and prints
# the codec, the schema's field names and one line per record.
import json
import sys

import avro.datafile
import avro.io

with open(sys.argv[1], "rb") as f:
    r = avro.datafile.DataFileReader(f, avro.io.DatumReader())
    print("codec", r.get_meta("avro.codec").decode())
    print("fields", [fl.name for fl in r.datum_reader.writers_schema.fields])
    for rec in r:
        print(json.dumps(rec, sort_keys=True, default=lambda v: v.hex() if isinstance(v, bytes) else str(v)))
