// Writes a Parquet file with hyparquet-writer (an independent implementation) for Sluice to read.
import { parquetWriteFile } from 'hyparquet-writer'

const out = process.argv[2]
parquetWriteFile({
  filename: out,
  columnData: [
    { name: 'b', data: [true, false, null] },
    { name: 'i', data: [1, -2147483648, null] },
    { name: 'big', data: [9007199254740993n, -1n, null] },
    { name: 'f', data: [1.5, -0.25, null] },
    { name: 'd', data: [3.141592653589793, -1e300, null] },
    { name: 's', data: ['héllo', '', null] },
    { name: 'bin', data: [new Uint8Array([0, 1, 255]), new Uint8Array([]), null] },
    { name: 'ts', data: [new Date(Date.UTC(2024, 1, 29, 23, 59, 58, 123)), new Date(0), null] },
    { name: 'dt', data: [new Date(Date.UTC(2024, 0, 1)), new Date(Date.UTC(1969, 11, 31)), null] },
    { name: 'dec', data: [12.34, -0.01, null] },
    { name: 'extra', data: ['ignored', 'ignored', null] },
  ],
  schema: [
    { name: 'root', num_children: 11 },
    { name: 'b', type: 'BOOLEAN', repetition_type: 'OPTIONAL' },
    { name: 'i', type: 'INT32', repetition_type: 'OPTIONAL' },
    { name: 'big', type: 'INT64', repetition_type: 'OPTIONAL' },
    { name: 'f', type: 'FLOAT', repetition_type: 'OPTIONAL' },
    { name: 'd', type: 'DOUBLE', repetition_type: 'OPTIONAL' },
    { name: 's', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
    { name: 'bin', type: 'BYTE_ARRAY', repetition_type: 'OPTIONAL' },
    { name: 'ts', type: 'INT64', converted_type: 'TIMESTAMP_MILLIS', repetition_type: 'OPTIONAL' },
    { name: 'dt', type: 'INT32', converted_type: 'DATE', repetition_type: 'OPTIONAL' },
    { name: 'dec', type: 'FIXED_LEN_BYTE_ARRAY', type_length: 5, converted_type: 'DECIMAL', precision: 10, scale: 2, repetition_type: 'OPTIONAL' },
    { name: 'extra', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
  ],
})
