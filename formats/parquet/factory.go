// Package parquet is the 'parquet' format: Apache Parquet files read and written through Apache Arrow
// (github.com/apache/arrow-go/v18, its parquet/pqarrow package), with Flink's type mapping (Hive-compatible:
// TIMESTAMP and TIMESTAMP_LTZ as INT96, DECIMAL as FIXED_LEN_BYTE_ARRAY, TIME as INT32 TIME_MILLIS).
//
// Parquet is a bulk format: a file holds many rows in column chunks, so it has no per-message Decoder or
// Encoder. The 'filesystem' connector uses Writer and Reader; other connectors get an error naming the
// format. Rows are gathered into Arrow record batches (BatchRows rows each) before they are written, and
// read back a record batch at a time, column by column.
package parquet

import (
	"fmt"

	"github.com/apache/arrow-go/v18/parquet/compress"

	"github.com/sluicesql/sluice/formats"
	"github.com/sluicesql/sluice/options"
)

// Option declarations, without the format prefix.
var (
	UTCTimezone = options.Bool("utc-timezone").Default(false).
			Desc("Use UTC (true) or the local time zone of the process (false, Flink's default) to convert TIMESTAMP wall clocks to and from the instants stored as INT96.")
	Compression = options.Enum("compression", "uncompressed", "snappy", "gzip", "zstd", "lz4", "brotli",
		"UNCOMPRESSED", "SNAPPY", "GZIP", "ZSTD", "LZ4", "BROTLI").Default("snappy").
		Desc("Compression codec of the column chunks (parquet-mr's parquet.compression; default snappy).")
	BlockSize = options.Memory("block.size").Default(128 << 20).
			Desc("Row group size: a row group is closed once its column chunks reach this many bytes (parquet-mr's parquet.block.size).")
	PageSize = options.Memory("page.size").Default(1 << 20).
			Desc("Data page size in bytes (parquet-mr's parquet.page.size).")
	EnableDictionary = options.Bool("enable.dictionary").Default(true).
				Desc("Dictionary-encode column chunks (parquet-mr's parquet.enable.dictionary).")
)

// Factory is the parquet format factory.
type Factory struct{}

// NewFactory returns the parquet format factory.
func NewFactory() *Factory { return &Factory{} }

var _ formats.Factory = (*Factory)(nil)

func (*Factory) Identifier() string { return "parquet" }

func (*Factory) Options() []options.Decl {
	return options.Decls(UTCTimezone, Compression, BlockSize, PageSize, EnableDictionary)
}

func bulkOnly() error {
	return &options.Error{Keys: []string{"format"}, Msg: "format 'parquet' is a bulk file format: only the 'filesystem' connector can read and write it; use 'json', 'csv', 'avro' or 'raw' with message-based connectors"}
}

// CreateDecoder fails: Parquet has no message form.
func (*Factory) CreateDecoder(formats.Context) (formats.Decoder, error) { return nil, bulkOnly() }

// CreateEncoder fails: Parquet has no message form.
func (*Factory) CreateEncoder(formats.Context) (formats.Encoder, error) { return nil, bulkOnly() }

// Config is the resolved configuration of Writer and Reader.
type Config struct {
	UTC        bool
	Codec      compress.Compression
	BlockSize  int64
	PageSize   int64
	Dictionary bool
	// BatchRows is the number of rows per Arrow record batch (writing and reading); 0 means 8192.
	BatchRows int
}

// DefaultConfig is the configuration of a format without options.
func DefaultConfig() Config {
	return Config{Codec: compress.Codecs.Snappy, BlockSize: 128 << 20, PageSize: 1 << 20, Dictionary: true, BatchRows: 8192}
}

// ConfigFrom resolves the format's options (keys without the 'parquet.' prefix).
func (f *Factory) ConfigFrom(ctx formats.Context) (Config, error) {
	r, err := ctx.ResolveOptions(f)
	if err != nil {
		return Config{}, err
	}
	c := DefaultConfig()
	c.UTC = UTCTimezone.Get(r)
	switch v := Compression.Get(r); v {
	case "uncompressed", "UNCOMPRESSED":
		c.Codec = compress.Codecs.Uncompressed
	case "snappy", "SNAPPY":
		c.Codec = compress.Codecs.Snappy
	case "gzip", "GZIP":
		c.Codec = compress.Codecs.Gzip
	case "zstd", "ZSTD":
		c.Codec = compress.Codecs.Zstd
	case "lz4", "LZ4":
		c.Codec = compress.Codecs.Lz4Raw
	case "brotli", "BROTLI":
		c.Codec = compress.Codecs.Brotli
	default:
		return c, fmt.Errorf("unknown compression '%s'", v)
	}
	c.BlockSize = int64(BlockSize.Get(r))
	c.PageSize = int64(PageSize.Get(r))
	if c.BlockSize <= 0 || c.PageSize <= 0 {
		return c, &options.Error{Keys: []string{"parquet.block.size"}, Msg: "'parquet.block.size' and 'parquet.page.size' must be positive"}
	}
	c.Dictionary = EnableDictionary.Get(r)
	return c, nil
}
