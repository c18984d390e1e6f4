# Confluent's Python serializer (Debian python3-confluent-kafka, legacy confluent_kafka.avro API with
# python3-avro) as an independent oracle for the avro-confluent format.
#   confluent_avro.py URL produce SCHEMA_FILE TOPIC   prints one hex message per row
#   confluent_avro.py URL consume                     reads hex messages on stdin, prints each as JSON
import binascii, datetime, decimal, json, sys

import avro.schema
from confluent_kafka.avro import CachedSchemaRegistryClient
from confluent_kafka.avro.serializer.message_serializer import MessageSerializer

UTC = datetime.timezone.utc
ROWS = [
    {"b": True, "i": -5, "bi": 1234567890123, "f": 1.5, "d": 2.25, "dec": decimal.Decimal("12345.67"),
     "s": "h\u00e9llo", "bin": b"\x00\x01\xff", "dt": datetime.date(2020, 12, 30),
     "tm": datetime.time(12, 13, 14, 123000),
     "ts": datetime.datetime(2020, 12, 30, 12, 13, 14, 123000, tzinfo=UTC),
     "ts6": datetime.datetime(2020, 12, 30, 12, 13, 14, 123456, tzinfo=UTC),
     "a": [1, 2, 3], "m": {"k": "v"}, "r": {"x": 7, "y": "z"}},
    {"b": None, "i": None, "bi": None, "f": None, "d": None, "dec": None, "s": None, "bin": None, "dt": None,
     "tm": None, "ts": None, "ts6": None, "a": None, "m": None, "r": None},
]


def norm(v):
    if isinstance(v, decimal.Decimal):
        return str(v)
    if isinstance(v, (datetime.date, datetime.time, datetime.datetime)):
        return v.isoformat()
    if isinstance(v, bytes):
        return binascii.hexlify(v).decode()
    raise TypeError(repr(v))


def main():
    url, mode = sys.argv[1], sys.argv[2]
    ser = MessageSerializer(CachedSchemaRegistryClient({"url": url}))
    if mode == "produce":
        schema = avro.schema.parse(open(sys.argv[3]).read())
        for row in ROWS:
            print(binascii.hexlify(ser.encode_record_with_schema(sys.argv[4], schema, row)).decode())
    else:
        for line in sys.stdin:
            if line.strip():
                print(json.dumps(ser.decode_message(bytes.fromhex(line.strip())), default=norm, sort_keys=True))


main()
