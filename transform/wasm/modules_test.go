package wasm

// Hand-made modules, for what a Go guest cannot do: break the ABI, trap
// with unreachable, answer more than transform.MaxResponseBytes. wat is
// the text of each, for the reader.

type valType = byte

const (
	i32 valType = 0x7f
	i64 valType = 0x7e
)

// Instructions used by the modules.
const (
	opUnreachable = 0x00
	opI32Const    = 0x41
	opI64Const    = 0x42
	opEnd         = 0x0b
)

type modFunc struct {
	export          string
	params, results []valType
	body            []byte // without the final end
}

type module struct {
	imports []string // "module.name" of functions () -> ()
	funcs   []modFunc
	memory  bool   // one page, exported as "memory"
	data    string // at address 0
}

// bytes encodes m in the WebAssembly binary format.
func (m module) bytes() []byte {
	out := []byte("\x00asm\x01\x00\x00\x00")
	section := func(id byte, content []byte) {
		out = append(out, id)
		out = appendU(out, uint64(len(content)))
		out = append(out, content...)
	}
	name := func(b []byte, s string) []byte { return append(appendU(b, uint64(len(s))), s...) }

	// Types: one per function, then () -> () for the imports.
	types := appendU(nil, uint64(len(m.funcs)+1))
	for _, f := range m.funcs {
		types = append(types, 0x60)
		types = append(appendU(types, uint64(len(f.params))), f.params...)
		types = append(appendU(types, uint64(len(f.results))), f.results...)
	}
	types = append(types, 0x60, 0, 0)
	section(1, types)
	if len(m.imports) > 0 {
		imp := appendU(nil, uint64(len(m.imports)))
		for _, full := range m.imports {
			mod, fn := full, ""
			for i := range full {
				if full[i] == '.' {
					mod, fn = full[:i], full[i+1:]
				}
			}
			imp = name(imp, mod)
			imp = name(imp, fn)
			imp = append(imp, 0x00)
			imp = appendU(imp, uint64(len(m.funcs)))
		}
		section(2, imp)
	}
	fns := appendU(nil, uint64(len(m.funcs)))
	for i := range m.funcs {
		fns = appendU(fns, uint64(i))
	}
	section(3, fns)
	if m.memory {
		section(5, []byte{1, 0x00, 1})
	}
	var exports [][]byte
	for i, f := range m.funcs {
		if f.export != "" {
			exports = append(exports, appendU(append(name(nil, f.export), 0x00), uint64(len(m.imports)+i)))
		}
	}
	if m.memory {
		exports = append(exports, append(name(nil, "memory"), 0x02, 0))
	}
	exp := appendU(nil, uint64(len(exports)))
	for _, e := range exports {
		exp = append(exp, e...)
	}
	section(7, exp)
	code := appendU(nil, uint64(len(m.funcs)))
	for _, f := range m.funcs {
		body := append(append([]byte{0}, f.body...), opEnd) // no locals
		code = append(appendU(code, uint64(len(body))), body...)
	}
	section(10, code)
	if m.data != "" {
		seg := []byte{1, 0x00, opI32Const, 0, opEnd}
		section(11, name(seg, m.data))
	}
	return out
}

func appendU(b []byte, v uint64) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v == 0 {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

func appendS(b []byte, v int64) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v == 0 && c&0x40 == 0 || v == -1 && c&0x40 != 0 {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

func i32Const(v int32) []byte { return appendS([]byte{opI32Const}, int64(v)) }
func i64Const(v int64) []byte { return appendS([]byte{opI64Const}, v) }

// abiModule is a module with the ABI's exports: hydrant_alloc answers
// alloc, hydrant_transform runs transform, and the memory holds data.
//
//	(module
//	  (memory (export "memory") 1)
//	  (data (i32.const 0) "<data>")
//	  (func (export "hydrant_alloc") (param i32) (result i32) <alloc>)
//	  (func (export "hydrant_transform") (param i32 i32) (result i64) <transform>))
func abiModule(alloc, transform []byte, data string) module {
	return module{
		memory: true,
		data:   data,
		funcs: []modFunc{
			{export: exportAlloc, params: []valType{i32}, results: []valType{i32}, body: alloc},
			{export: exportTransform, params: []valType{i32, i32}, results: []valType{i64}, body: transform},
		},
	}
}

// answer packs a hydrant_transform result.
func answer(ptr, n uint32, failed bool) int64 {
	r := uint64(ptr)<<32 | uint64(n)
	if failed {
		r |= errFlag
	}
	return int64(r)
}
