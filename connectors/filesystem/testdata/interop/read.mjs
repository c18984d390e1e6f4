// Reads a Parquet file with hyparquet (an independent implementation) and prints one JSON object a row,
// values in an exact text form: integers and timestamps as decimal strings (nanoseconds for INT96),
// dates as days, bytes as hex.
import { asyncBufferFromFile, parquetReadObjects } from 'hyparquet'

const file = await asyncBufferFromFile(process.argv[2])
const rows = await parquetReadObjects({
  file,
  utf8: false,
  parsers: {
    timestampFromMilliseconds: (v) => `${v}ms`,
    timestampFromMicroseconds: (v) => `${v}us`,
    timestampFromNanoseconds: (v) => `${v}ns`,
    dateFromDays: (v) => `${v}d`,
    stringFromBytes: (b) => b && new TextDecoder().decode(b),
    jsonFromBytes: (b) => b && new TextDecoder().decode(b),
  },
})
const hex = (b) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('')
for (const row of rows) {
  console.log(JSON.stringify(row, (k, v) => {
    if (typeof v === 'bigint') return `${v}`
    if (v instanceof Uint8Array) return `0x${hex(v)}`
    return v
  }))
}
