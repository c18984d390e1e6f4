// Package formats holds the format registry and the encoder/decoder interfaces. Formats do not know which
// connector calls them.
//
// A connector finds its format with Registry.Discover, which reads the format named by an option ('format',
// 'key.format', 'value.format'), validates that format's options under their prefix ('json.', 'key.json.',
// 'value.json.') and builds the decoder or encoder; the connector then leaves the consumed keys out of its
// own unsupported-option check.
package formats
