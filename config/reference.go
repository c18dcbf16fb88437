package config

import "strings"

// referenceEnv is the environment variable the reference's example access
// key reads its secret from.
const referenceEnv = "HYDRANT_SECRET_ACCESS_KEY"

const referenceHeader = `# Hydrant config file reference: every key, with its type, range, default and meaning.
#
# Generated from config/spec.go by ` + "`go test ./config -update`" + `: edit the spec, not this file.
# Every key is optional unless marked required, and an unknown key is an error. A size is
# a number of bytes, or a number with a unit: KiB, MiB, GiB, TiB (powers of 1024) or KB,
# MB, GB, TB (powers of 1000).
#
# It loads as it is once ` + referenceEnv + ` is set; without the auth section,
# only the development key is accepted, and only on loopback addresses.
`

// Reference returns the config file reference: a YAML file that sets every
// key to its default or an example, with comments saying its meaning,
// type, range and default. deploy/examples/hydrant.yaml is its output.
func Reference() string {
	var b strings.Builder
	b.WriteString(referenceHeader)
	renderObject(&b, spec, Default(), "", false)
	return b.String()
}

const referenceWidth = 90

// renderObject writes the keys of o, set to their values in dst, at
// indent; item says the keys are an element of a list.
func renderObject(b *strings.Builder, o *object, dst any, indent string, item bool) {
	inner := indent // where the keys start
	if item {
		inner += "  "
	}
	for i, f := range o.fields {
		pad, key := inner, f.key+":"
		if item && i == 0 {
			pad, key = indent, "- "+key
		}
		if i > 0 || indent == "" {
			b.WriteByte('\n')
		}
		comment(b, pad, f.doc)
		v := f.value
		if v.obj != nil && v.add == nil {
			b.WriteString(pad + key + "\n")
			renderObject(b, v.obj, v.sub(dst), inner+"  ", false)
			continue
		}
		typ, rng := v.typ, v.rng
		if f.typ != "" {
			typ = f.typ
		}
		if f.rng != "" {
			rng = f.rng
		}
		if rng != "" {
			typ += ", " + rng
		}
		val := ""
		if v.show != nil {
			val = v.show(dst)
		}
		comment(b, pad, "type: "+typ)
		switch {
		case f.required:
			comment(b, pad, "required")
		case f.dflt != "":
			comment(b, pad, f.dflt)
		case v.add != nil:
			comment(b, pad, "default: []")
		default:
			comment(b, pad, "default: "+val)
		}
		if v.add != nil {
			b.WriteString(pad + key + "\n")
			renderObject(b, v.obj, v.elem(), inner+"  ", true)
			continue
		}
		if f.example != "" {
			val = f.example
		}
		if f.disabled {
			key = "# " + key
		}
		b.WriteString(pad + key + " " + val + "\n")
	}
}

// comment writes text as comment lines at indent, wrapped.
func comment(b *strings.Builder, indent, text string) {
	line := indent + "#"
	for _, w := range strings.Fields(text) {
		if len(line)+1+len(w) > referenceWidth && len(line) > len(indent)+1 {
			b.WriteString(line + "\n")
			line = indent + "#"
		}
		line += " " + w
	}
	b.WriteString(line + "\n")
}
