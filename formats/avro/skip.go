package avro

import (
	"errors"
	"fmt"

	hamba "github.com/hamba/avro/v2"
)

// Skipping: the plans and the walk that read past writer data the reader does not want (writer-only fields,
// and with a projection the fields a query does not read) by its encoding alone, without materializing it.

// skip compiles a plan that reads past a writer value.
func (c *dcompiler) skip(w hamba.Schema) (*dnode, error) {
	w = deref(w)
	switch s := w.(type) {
	case *hamba.NullSchema:
		return &dnode{op: dNull}, nil
	case *hamba.PrimitiveSchema:
		switch s.Type() {
		case hamba.Null:
			return &dnode{op: dNull}, nil
		case hamba.Boolean:
			return &dnode{op: sFixed, size: 1}, nil
		case hamba.Int, hamba.Long:
			return &dnode{op: sVarint, long: true}, nil
		case hamba.Float:
			return &dnode{op: sFixed, size: 4}, nil
		case hamba.Double:
			return &dnode{op: sFixed, size: 8}, nil
		case hamba.String, hamba.Bytes:
			return &dnode{op: sBytes}, nil
		}
	case *hamba.EnumSchema:
		return &dnode{op: sVarint, long: true}, nil
	case *hamba.FixedSchema:
		return &dnode{op: sFixed, size: s.Size()}, nil
	case *hamba.ArraySchema:
		el, err := c.skip(s.Items())
		if err != nil {
			return nil, err
		}
		return &dnode{op: dArray, elem: el, nreader: -1}, nil
	case *hamba.MapSchema:
		el, err := c.skip(s.Values())
		if err != nil {
			return nil, err
		}
		return &dnode{op: dMap, elem: el, nreader: -1}, nil
	case *hamba.UnionSchema:
		n := &dnode{op: dUnion, branches: make([]*dnode, len(s.Types()))}
		for i, b := range s.Types() {
			bn, err := c.skip(b)
			if err != nil {
				return nil, err
			}
			n.branches[i] = bn
		}
		return n, nil
	case *hamba.RecordSchema:
		if n, ok := c.skips[s.FullName()]; ok {
			return n, nil
		}
		n := &dnode{op: dRecord, nreader: -1}
		c.skips[s.FullName()] = n
		for _, f := range s.Fields() {
			fn, err := c.skip(f.Type())
			if err != nil {
				return nil, err
			}
			n.fields = append(n.fields, dfield{target: -1, node: fn})
		}
		return n, nil
	}
	return nil, fmt.Errorf("cannot skip writer schema %s", describe(w))
}

func skipValue(n *dnode, r *reader) error {
	switch n.op {
	case dNull:
		return nil
	case sVarint:
		_, err := r.long()
		return err
	case sFixed:
		_, err := r.fixed(int64(n.size))
		return err
	case sBytes:
		_, err := r.bytes()
		return err
	case dArray, dMap:
		for {
			cnt, err := r.blockCount()
			if err != nil {
				return err
			}
			if cnt == 0 {
				return nil
			}
			if cnt > int64(len(r.b)-r.p) && !(n.op == dArray && n.elem.op == dNull) {
				return errBlockCount
			}
			for ; cnt > 0; cnt-- {
				if n.op == dMap {
					if _, err := r.bytes(); err != nil {
						return err
					}
				}
				if err := skipValue(n.elem, r); err != nil {
					return err
				}
			}
		}
	case dRecord:
		for i := range n.fields {
			if err := skipValue(n.fields[i].node, r); err != nil {
				return err
			}
		}
		return nil
	case dUnion:
		i, err := r.long()
		if err != nil {
			return err
		}
		if i < 0 || i >= int64(len(n.branches)) {
			return errors.New(unionMsg(i, len(n.branches)))
		}
		return skipValue(n.branches[i], r)
	}
	return fmt.Errorf("internal error: skip op %d", n.op)
}
