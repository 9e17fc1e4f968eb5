//! Protobuf to JSON: writes the JSON the apiserver would have sent for the
//! same object, following Go's `encoding/json` rules as the table records
//! them (`omitempty`, pointers, inline structs, nil slices and maps as
//! `null`, the special types' own `MarshalJSON`).

use std::io::Write as _;

use base64::Engine as _;

use super::Error;
use super::schema::{Field, Kind, Message, Schema};
use super::wire::{Reader, Value, WireType};

/// The prefix of every protobuf-encoded object (`runtime.Unknown` follows).
pub(crate) const MAGIC: &[u8; 4] = b"k8s\0";

/// Go's zero `time.Time` in Unix seconds (`metav1.Time` writes it as `null`).
const GO_ZERO_TIME: i64 = -62_135_596_800;

/// One field occurrence of the message being written: where its value is.
#[derive(Debug, Clone, Copy)]
struct Occurrence {
    field: u16,
    wire: WireType,
    /// A varint's or fixed value's bits, or the start of a length-delimited value.
    word: u64,
    end: u32,
}

/// Writes JSON for protobuf objects; keeps its scratch space between objects.
#[derive(Debug)]
pub(crate) struct Transcoder {
    schema: &'static Schema,
    /// Field occurrences of every message being written, innermost last.
    stack: Vec<Occurrence>,
    /// Leave `metadata.managedFields` out.
    omit_managed_fields: bool,
    /// `meta/v1.ObjectMeta`'s message.
    object_meta: Option<u32>,
}

/// `metadata.managedFields`' field number in `meta/v1.ObjectMeta`.
const MANAGED_FIELDS: u32 = 17;

impl Transcoder {
    pub(crate) fn new(schema: &'static Schema, omit_managed_fields: bool) -> Self {
        let object_meta = schema.object_meta();
        Self { schema, stack: Vec::new(), omit_managed_fields, object_meta }
    }

    /// One frame of a protobuf watch stream (a `metav1.WatchEvent`) as one
    /// line of a JSON watch stream (newline included).
    pub(crate) fn watch_event(&mut self, frame: &[u8], out: &mut Vec<u8>) -> Result<(), Error> {
        let (mut kind, mut object) = (None, None);
        let mut reader = Reader::new(frame);
        while let Some((number, value)) = reader.field()? {
            match (number, value) {
                (1, Value::Len(bytes)) => kind = Some(bytes),
                (2, Value::Len(bytes)) => object = Some(raw_of(bytes)?),
                _ => {}
            }
        }
        let (Some(kind), Some(object)) = (kind, object) else {
            return Err(Error::Malformed("a watch event without its type or object"));
        };
        out.extend_from_slice(b"{\"type\":");
        string(kind, out);
        out.extend_from_slice(b",\"object\":");
        self.object(object, out)?;
        out.extend_from_slice(b"}\n");
        Ok(())
    }

    /// An enveloped object (`k8s\0` + `runtime.Unknown`) as JSON, `kind`
    /// and `apiVersion` first.
    pub(crate) fn object(&mut self, enveloped: &[u8], out: &mut Vec<u8>) -> Result<(), Error> {
        let unknown = enveloped.strip_prefix(MAGIC).ok_or(Error::NoEnvelope)?;
        let (mut api_version, mut kind, mut raw): (&[u8], &[u8], &[u8]) = (b"", b"", b"");
        let mut reader = Reader::new(unknown);
        while let Some((number, value)) = reader.field()? {
            match (number, value) {
                (1, Value::Len(type_meta)) => {
                    let mut tm = Reader::new(type_meta);
                    while let Some((n, v)) = tm.field()? {
                        match (n, v) {
                            (1, Value::Len(b)) => api_version = b,
                            (2, Value::Len(b)) => kind = b,
                            _ => {}
                        }
                    }
                }
                (2, Value::Len(bytes)) => raw = bytes,
                (3, Value::Len(encoding)) if !encoding.is_empty() => {
                    return Err(Error::Encoding(String::from_utf8_lossy(encoding).into_owned()));
                }
                _ => {}
            }
        }
        let unknown = || Error::UnknownKind {
            api_version: String::from_utf8_lossy(api_version).into_owned(),
            kind: String::from_utf8_lossy(kind).into_owned(),
        };
        let (Ok(api_version_text), Ok(kind_text)) = (std::str::from_utf8(api_version), std::str::from_utf8(kind))
        else {
            return Err(unknown());
        };
        let message = self.schema.api_kind(api_version_text, kind_text).ok_or_else(unknown)?;
        out.extend_from_slice(b"{\"kind\":");
        string(kind, out);
        out.extend_from_slice(b",\"apiVersion\":");
        string(api_version, out);
        let mut first = false;
        self.members(message, raw, out, &mut first)?;
        out.push(b'}');
        Ok(())
    }

    /// The members of message `index` read from `bytes`, written into the
    /// object being written (`first`: no member written yet).
    fn members(&mut self, index: u32, bytes: &[u8], out: &mut Vec<u8>, first: &mut bool) -> Result<(), Error> {
        let schema = self.schema;
        let message = schema.message(index);
        let base = self.stack.len();
        let result = self.collect(message, bytes).and_then(|()| {
            let mut at = base;
            for (i, field) in message.fields.iter().enumerate() {
                let from = at;
                while at < self.stack.len() && usize::from(self.stack[at].field) == i {
                    at += 1;
                }
                if self.omit_managed_fields && field.number == MANAGED_FIELDS && Some(index) == self.object_meta {
                    continue;
                }
                self.field(message, field, bytes, from..at, out, first)?;
            }
            Ok(())
        });
        self.stack.truncate(base);
        result
    }

    /// Pushes the occurrences of `message`'s known fields in `bytes`, in
    /// field order (occurrences of one field keep their order).
    fn collect(&mut self, message: &Message, bytes: &[u8]) -> Result<(), Error> {
        let base = self.stack.len();
        let mut reader = Reader::new(bytes);
        let mut sorted = true;
        let mut last = 0u16;
        while let Some((number, value)) = reader.field()? {
            // Fields this table does not know (a newer apiserver) are left out,
            // as an older client-go would.
            let Some(field) = message.field_index(number) else { continue };
            let field = u16::try_from(field).unwrap_or(u16::MAX);
            sorted &= field >= last;
            last = field;
            self.stack.push(Occurrence { field, ..occurrence_in(value, bytes)? });
        }
        if !sorted {
            self.stack[base..].sort_by_key(|o| o.field);
        }
        Ok(())
    }

    /// One field: its occurrences are `self.stack[range]`.
    fn field(
        &mut self,
        message: &Message,
        field: &Field,
        bytes: &[u8],
        range: std::ops::Range<usize>,
        out: &mut Vec<u8>,
        first: &mut bool,
    ) -> Result<(), Error> {
        let last = range.clone().next_back().map(|i| self.stack[i]);
        if field.inline {
            let Kind::Message(inner) = field.kind else { return Err(mismatch(message, field)) };
            let body = match last {
                Some(o) => len_value(o, bytes).ok_or_else(|| mismatch(message, field))?,
                None => &[],
            };
            return self.members(inner, body, out, first);
        }
        if field.repeated || matches!(field.kind, Kind::Map(_)) {
            if range.is_empty() {
                if !field.omitempty {
                    key(field.json, out, first);
                    out.extend_from_slice(b"null");
                }
                return Ok(());
            }
            key(field.json, out, first);
            return match field.kind {
                Kind::Map(value) => self.map(message, field, value, bytes, range, out),
                kind => self.list(message, field, kind, bytes, range, out),
            };
        }
        let Some(o) = last else {
            if field.omitzero {
                return Ok(());
            }
            if field.pointer || field.omitempty && is_scalar(self.schema, field.kind) {
                if !field.omitempty {
                    key(field.json, out, first);
                    out.extend_from_slice(b"null");
                }
                return Ok(());
            }
            key(field.json, out, first);
            return self.zero(field.kind, out);
        };
        if field.omitempty && !field.pointer && self.is_zero(field.kind, o, bytes) {
            return Ok(());
        }
        if field.omitzero && !field.pointer && is_zero_struct(field.kind, o, bytes)? {
            return Ok(());
        }
        key(field.json, out, first);
        self.value(field.kind, o, bytes, out).map_err(in_field(message, field))
    }

    fn list(
        &mut self,
        message: &Message,
        field: &Field,
        kind: Kind,
        bytes: &[u8],
        range: std::ops::Range<usize>,
        out: &mut Vec<u8>,
    ) -> Result<(), Error> {
        out.push(b'[');
        // The one place the apiserver writes the type of embedded objects:
        // StatefulSets' claim templates (kubernetes#87583, in its conversion).
        let typed = field.json == "volumeClaimTemplates"
            && message.name.starts_with("apps/")
            && message.name.ends_with(".StatefulSetSpec");
        let mut first = true;
        for i in range {
            let o = self.stack[i];
            if let (true, Kind::Message(index)) = (typed, kind) {
                let body = len_value(o, bytes).ok_or_else(|| mismatch(message, field))?;
                if !std::mem::take(&mut first) {
                    out.push(b',');
                }
                out.extend_from_slice(br#"{"kind":"PersistentVolumeClaim","apiVersion":"v1""#);
                self.members(index, body, out, &mut false)?;
                out.push(b'}');
                continue;
            }
            let packed = o.wire == WireType::Len && matches!(kind, Kind::Int | Kind::Bool | Kind::Double | Kind::Float);
            if packed {
                let items = len_value(o, bytes).ok_or_else(|| mismatch(message, field))?;
                packed_items(kind, items, out, &mut first)?;
                continue;
            }
            if !std::mem::take(&mut first) {
                out.push(b',');
            }
            self.value(kind, o, bytes, out).map_err(in_field(message, field))?;
        }
        out.push(b']');
        Ok(())
    }

    fn map(
        &mut self,
        message: &Message,
        field: &Field,
        value_kind: &Kind,
        bytes: &[u8],
        range: std::ops::Range<usize>,
        out: &mut Vec<u8>,
    ) -> Result<(), Error> {
        out.push(b'{');
        for (n, i) in range.enumerate() {
            let entry = len_value(self.stack[i], bytes).ok_or_else(|| mismatch(message, field))?;
            let (mut k, mut v): (&[u8], Option<Value<'_>>) = (b"", None);
            let mut reader = Reader::new(entry);
            while let Some((number, value)) = reader.field()? {
                match (number, value) {
                    (1, Value::Len(b)) => k = b,
                    (2, value) => v = Some(value),
                    _ => {}
                }
            }
            if n > 0 {
                out.push(b',');
            }
            string(k, out);
            out.push(b':');
            match v {
                None => self.zero(*value_kind, out)?,
                Some(value) => {
                    self.value(*value_kind, occurrence_in(value, entry)?, entry, out)
                        .map_err(in_field(message, field))?;
                }
            }
        }
        out.push(b'}');
        Ok(())
    }

    /// One value of `kind`.
    fn value(&mut self, kind: Kind, o: Occurrence, bytes: &[u8], out: &mut Vec<u8>) -> Result<(), Error> {
        match (kind, o.wire) {
            (Kind::Bool, WireType::Varint) => out.extend_from_slice(if o.word != 0 { b"true" } else { b"false" }),
            (Kind::Int, WireType::Varint) => {
                out.extend_from_slice(itoa::Buffer::new().format(o.word as i64).as_bytes())
            }
            (Kind::Double, WireType::Fixed64) => float(f64::from_bits(o.word), out)?,
            (Kind::Float, WireType::Fixed32) => float(f64::from(f32::from_bits(o.word as u32)), out)?,
            (_, WireType::Len) => {
                let b = len_value(o, bytes).ok_or(Error::WireType)?;
                self.len_value(kind, b, out)?;
            }
            _ => return Err(Error::WireType),
        }
        Ok(())
    }

    /// A length-delimited value of `kind`.
    fn len_value(&mut self, kind: Kind, b: &[u8], out: &mut Vec<u8>) -> Result<(), Error> {
        match kind {
            Kind::String => string(b, out),
            Kind::Bytes => {
                out.push(b'"');
                let start = out.len();
                out.resize(start + base64::encoded_len(b.len(), true).unwrap_or(0), 0);
                let n = base64::engine::general_purpose::STANDARD
                    .encode_slice(b, &mut out[start..])
                    .map_err(|_| Error::Malformed("base64"))?;
                out.truncate(start + n);
                out.push(b'"');
            }
            Kind::Time | Kind::MicroTime => time(kind == Kind::MicroTime, b, out)?,
            Kind::Quantity => match sub_field(b, 1)? {
                Some(Value::Len(s)) => string(s, out),
                _ => out.extend_from_slice(b"\"0\""),
            },
            Kind::IntOrString => {
                let (mut typ, mut int, mut text) = (0, 0i64, &b""[..]);
                let mut reader = Reader::new(b);
                while let Some(field) = reader.field()? {
                    match field {
                        (1, Value::Varint(v)) => typ = v,
                        (2, Value::Varint(v)) => int = i64::from(v as i32),
                        (3, Value::Len(s)) => text = s,
                        _ => {}
                    }
                }
                if typ == 1 {
                    string(text, out);
                } else {
                    out.extend_from_slice(itoa::Buffer::new().format(int).as_bytes());
                }
            }
            Kind::RawExtension | Kind::FieldsV1 => match sub_field(b, 1)? {
                Some(Value::Len(raw)) if raw.starts_with(MAGIC) && kind == Kind::RawExtension => {
                    self.object(raw, out)?
                }
                Some(Value::Len(raw)) if !raw.is_empty() => compact_json(raw, out)?,
                _ => out.extend_from_slice(b"null"),
            },
            Kind::Duration => {
                let nanos = match sub_field(b, 1)? {
                    Some(Value::Varint(v)) => v as i64,
                    _ => 0,
                };
                string(go_duration(nanos).as_bytes(), out);
            }
            Kind::Message(index) => {
                let message = self.schema.message(index);
                if let Some(elem) = message.wrapper {
                    out.push(b'[');
                    let mut first = true;
                    let mut reader = Reader::new(b);
                    while let Some((number, value)) = reader.field()? {
                        if number != 1 {
                            continue;
                        }
                        if !std::mem::take(&mut first) {
                            out.push(b',');
                        }
                        self.value(elem, occurrence_in(value, b)?, b, out)?;
                    }
                    out.push(b']');
                } else {
                    out.push(b'{');
                    let mut first = true;
                    self.members(index, b, out, &mut first)?;
                    out.push(b'}');
                }
            }
            Kind::Map(_) | Kind::Bool | Kind::Int | Kind::Double | Kind::Float => return Err(Error::WireType),
        }
        Ok(())
    }

    /// What Go writes for a field that is not on the wire.
    fn zero(&mut self, kind: Kind, out: &mut Vec<u8>) -> Result<(), Error> {
        match kind {
            Kind::String => out.extend_from_slice(b"\"\""),
            Kind::Bool => out.extend_from_slice(b"false"),
            Kind::Int | Kind::Double | Kind::Float | Kind::IntOrString => out.push(b'0'),
            Kind::Quantity => out.extend_from_slice(b"\"0\""),
            Kind::Duration => out.extend_from_slice(b"\"0s\""),
            Kind::Bytes | Kind::Time | Kind::MicroTime | Kind::RawExtension | Kind::FieldsV1 | Kind::Map(_) => {
                out.extend_from_slice(b"null");
            }
            Kind::Message(_) => self.len_value(kind, &[], out)?,
        }
        Ok(())
    }

    /// Whether `encoding/json`'s `omitempty` leaves this value out.
    fn is_zero(&self, kind: Kind, o: Occurrence, bytes: &[u8]) -> bool {
        match kind {
            Kind::Bool | Kind::Int | Kind::Float => o.word == 0,
            Kind::Double => f64::from_bits(o.word) == 0.0,
            Kind::String | Kind::Bytes => len_value(o, bytes).is_some_and(<[u8]>::is_empty),
            Kind::Message(index) if self.schema.message(index).wrapper.is_some() => {
                len_value(o, bytes).is_some_and(<[u8]>::is_empty)
            }
            // Structs are never empty to encoding/json.
            _ => false,
        }
    }
}

/// Whether `omitzero` leaves out a value that `omitempty` keeps: a zero
/// time (the only struct the API marks so).
fn is_zero_struct(kind: Kind, o: Occurrence, bytes: &[u8]) -> Result<bool, Error> {
    if !matches!(kind, Kind::Time | Kind::MicroTime) {
        return Ok(false);
    }
    let b = len_value(o, bytes).ok_or(Error::WireType)?;
    let (seconds, nanos) = seconds_nanos(b)?;
    Ok(b.is_empty() || seconds == GO_ZERO_TIME && nanos == 0)
}

fn is_scalar(schema: &Schema, kind: Kind) -> bool {
    match kind {
        Kind::String | Kind::Bool | Kind::Int | Kind::Double | Kind::Float | Kind::Bytes => true,
        Kind::Message(index) => schema.message(index).wrapper.is_some(),
        _ => false,
    }
}

fn mismatch(message: &Message, field: &Field) -> Error {
    Error::Mismatch { message: message.name, field: field.number }
}

/// The bytes of a length-delimited occurrence.
fn len_value(o: Occurrence, bytes: &[u8]) -> Option<&[u8]> {
    (o.wire == WireType::Len).then(|| bytes.get(o.word as usize..o.end as usize)).flatten()
}

/// An occurrence of `value`, which lies within `bytes` (its field left 0).
fn occurrence_in(value: Value<'_>, bytes: &[u8]) -> Result<Occurrence, Error> {
    let (word, end) = match value {
        Value::Varint(v) | Value::Fixed64(v) => (v, 0),
        Value::Fixed32(v) => (u64::from(v), 0),
        Value::Len(slice) => {
            let start = slice.as_ptr() as usize - bytes.as_ptr() as usize;
            let end = u32::try_from(start + slice.len()).map_err(|_| Error::Malformed("message over 4 GiB"))?;
            (start as u64, end)
        }
    };
    Ok(Occurrence { field: 0, wire: value.wire_type(), word, end })
}

/// Names the field of a value with the wrong wire type.
fn in_field<'a>(message: &'a Message, field: &'a Field) -> impl Fn(Error) -> Error + 'a {
    move |e| if let Error::WireType = e { mismatch(message, field) } else { e }
}

/// The last occurrence of field `number` in a small message.
fn sub_field(b: &[u8], number: u32) -> Result<Option<Value<'_>>, Error> {
    let mut found = None;
    let mut reader = Reader::new(b);
    while let Some((n, value)) = reader.field()? {
        if n == number {
            found = Some(value);
        }
    }
    Ok(found)
}

/// `runtime.RawExtension`'s bytes.
fn raw_of(b: &[u8]) -> Result<&[u8], Error> {
    match sub_field(b, 1)? {
        Some(Value::Len(raw)) => Ok(raw),
        _ => Err(Error::Malformed("an embedded object without bytes")),
    }
}

fn packed_items(kind: Kind, items: &[u8], out: &mut Vec<u8>, first: &mut bool) -> Result<(), Error> {
    let mut reader = Reader::new(items);
    let mut at = 0;
    while !reader.is_empty() || at < items.len() && matches!(kind, Kind::Double | Kind::Float) {
        if !std::mem::take(first) {
            out.push(b',');
        }
        match kind {
            Kind::Double | Kind::Float => {
                let width = if kind == Kind::Double { 8 } else { 4 };
                let chunk = items.get(at..at + width).ok_or(Error::Malformed("truncated packed field"))?;
                at += width;
                let value = if width == 8 {
                    f64::from_bits(u64::from_le_bytes(chunk.try_into().unwrap_or_default()))
                } else {
                    f64::from(f32::from_bits(u32::from_le_bytes(chunk.try_into().unwrap_or_default())))
                };
                float(value, out)?;
                if at >= items.len() {
                    break;
                }
            }
            Kind::Bool => out.extend_from_slice(if reader.varint()? != 0 { b"true" } else { b"false" }),
            _ => out.extend_from_slice(itoa::Buffer::new().format(reader.varint()? as i64).as_bytes()),
        }
    }
    Ok(())
}

/// `"json":` after a comma when a member came before.
fn key(json: &str, out: &mut Vec<u8>, first: &mut bool) {
    if !std::mem::take(first) {
        out.push(b',');
    }
    out.push(b'"');
    out.extend_from_slice(json.as_bytes());
    out.extend_from_slice(b"\":");
}

/// A JSON string (invalid UTF-8 replaced, as Go's encoder does).
fn string(b: &[u8], out: &mut Vec<u8>) {
    // Writing to a Vec cannot fail.
    let _ = match std::str::from_utf8(b) {
        Ok(text) => serde_json::to_writer(&mut *out, text),
        Err(_) => serde_json::to_writer(&mut *out, String::from_utf8_lossy(b).as_ref()),
    };
}

/// A float as Go writes it: integers without a fraction.
fn float(value: f64, out: &mut Vec<u8>) -> Result<(), Error> {
    if !value.is_finite() {
        return Err(Error::Malformed("a float that JSON cannot hold"));
    }
    if value.fract() == 0.0 && value.abs() < 1e15 {
        out.extend_from_slice(itoa::Buffer::new().format(value as i64).as_bytes());
    } else {
        out.extend_from_slice(ryu::Buffer::new().format_finite(value).as_bytes());
    }
    Ok(())
}

/// `metav1.Time` (`2006-01-02T15:04:05Z`) or `metav1.MicroTime` (six
/// fraction digits); Go's zero time is `null`.
fn time(micro: bool, b: &[u8], out: &mut Vec<u8>) -> Result<(), Error> {
    let (seconds, nanos) = seconds_nanos(b)?;
    if b.is_empty() || seconds == GO_ZERO_TIME && nanos == 0 {
        out.extend_from_slice(b"null");
        return Ok(());
    }
    let ts = k8s_openapi::jiff::Timestamp::new(seconds, if micro { nanos / 1000 * 1000 } else { 0 })
        .map_err(|_| Error::Malformed("a time out of range"))?;
    let _ = if micro { write!(out, "\"{ts:.6}\"") } else { write!(out, "\"{ts:.0}\"") };
    Ok(())
}

/// A `metav1.Time`'s seconds and nanoseconds.
fn seconds_nanos(b: &[u8]) -> Result<(i64, i32), Error> {
    let (mut seconds, mut nanos) = (0i64, 0i32);
    let mut reader = Reader::new(b);
    while let Some(field) = reader.field()? {
        match field {
            (1, Value::Varint(v)) => seconds = v as i64,
            (2, Value::Varint(v)) => nanos = v as i32,
            _ => {}
        }
    }
    Ok((seconds, nanos))
}

/// Go's `time.Duration.String()`: `1h2m3.5s`, `1.5ms`, `0s`.
fn go_duration(nanos: i64) -> String {
    fn with_fraction(value: u64, unit: u64, digits: usize, suffix: &str) -> String {
        let (int, frac) = (value / unit, value % unit);
        if frac == 0 {
            return format!("{int}{suffix}");
        }
        let frac = format!("{frac:0digits$}");
        format!("{int}.{}{suffix}", frac.trim_end_matches('0'))
    }
    if nanos == 0 {
        return "0s".into();
    }
    let sign = if nanos < 0 { "-" } else { "" };
    let u = nanos.unsigned_abs();
    let body = match u {
        0..1_000 => format!("{u}ns"),
        1_000..1_000_000 => with_fraction(u, 1_000, 3, "µs"),
        1_000_000..1_000_000_000 => with_fraction(u, 1_000_000, 6, "ms"),
        _ => {
            let (hours, rest) = (u / 3_600_000_000_000, u % 3_600_000_000_000);
            let (minutes, rest) = (rest / 60_000_000_000, rest % 60_000_000_000);
            let mut s = String::new();
            if hours > 0 {
                s.push_str(&format!("{hours}h"));
            }
            if hours > 0 || minutes > 0 {
                s.push_str(&format!("{minutes}m"));
            }
            s + &with_fraction(rest, 1_000_000_000, 9, "s")
        }
    };
    format!("{sign}{body}")
}

/// Embedded JSON without the whitespace between tokens (Go's encoder
/// compacts what a `MarshalJSON` returns), so that a watch event stays on
/// one line.
fn compact_json(raw: &[u8], out: &mut Vec<u8>) -> Result<(), Error> {
    if !raw.iter().any(|&b| matches!(b, b' ' | b'\t' | b'\n' | b'\r')) {
        // Already compact (what the apiserver stores): copied once its
        // strings are seen to close, so it cannot swallow the rest of the line.
        if !strings_close(raw) {
            return Err(Error::Json);
        }
        out.extend_from_slice(raw);
        return Ok(());
    }
    let (mut in_string, mut escaped) = (false, false);
    for &b in raw {
        if in_string {
            out.push(b);
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            } else if b == b'\n' {
                return Err(Error::Json);
            }
        } else if !matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
            in_string = b == b'"';
            out.push(b);
        }
    }
    if in_string { Err(Error::Json) } else { Ok(()) }
}

/// Whether every string in `raw` (JSON without whitespace) is closed.
fn strings_close(raw: &[u8]) -> bool {
    let mut in_string = false;
    let mut at = 0;
    while let Some(found) = raw.get(at..).and_then(|rest| memchr::memchr2(b'"', b'\\', rest)) {
        let i = at + found;
        if raw[i] == b'\\' {
            if !in_string {
                return false;
            }
            at = i + 2;
        } else {
            in_string = !in_string;
            at = i + 1;
        }
    }
    !in_string
}

#[cfg(test)]
mod tests {
    use super::*;

    fn varint(mut v: u64, out: &mut Vec<u8>) {
        while v >= 0x80 {
            out.push((v as u8) | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    }

    fn len_field(number: u64, bytes: &[u8], out: &mut Vec<u8>) {
        varint(number << 3 | 2, out);
        varint(bytes.len() as u64, out);
        out.extend_from_slice(bytes);
    }

    fn entry(key: &[u8], value: &[u8]) -> Vec<u8> {
        let mut e = Vec::new();
        len_field(1, key, &mut e);
        len_field(2, value, &mut e);
        e
    }

    /// A watch event of a ConfigMap, encoded by hand as the apiserver does.
    fn configmap_event() -> Vec<u8> {
        let mut meta = Vec::new();
        len_field(1, b"cm", &mut meta);
        len_field(2, b"", &mut meta); // generateName, written although empty
        len_field(3, b"ns", &mut meta);
        len_field(6, b"7", &mut meta);
        varint(7 << 3, &mut meta); // generation 0
        varint(0, &mut meta);
        let mut time = vec![0x08];
        varint(1_700_000_000, &mut time);
        len_field(8, &time, &mut meta);
        len_field(11, &entry(b"app", b"a\"<b>"), &mut meta);
        let mut cm = Vec::new();
        len_field(1, &meta, &mut cm);
        len_field(2, &entry(b"k", b"v\n"), &mut cm);
        len_field(3, &entry(b"bin", &[0, 1, 255]), &mut cm);
        varint(4 << 3, &mut cm);
        varint(0, &mut cm); // immutable: false, a pointer
        let mut type_meta = Vec::new();
        len_field(1, b"v1", &mut type_meta);
        len_field(2, b"ConfigMap", &mut type_meta);
        let mut unknown = MAGIC.to_vec();
        len_field(1, &type_meta, &mut unknown);
        len_field(2, &cm, &mut unknown);
        let mut raw = Vec::new();
        len_field(1, &unknown, &mut raw);
        let mut event = Vec::new();
        len_field(1, b"ADDED", &mut event);
        len_field(2, &raw, &mut event);
        event
    }

    #[test]
    fn a_configmap_event_reads_as_the_apiserver_writes_it() {
        let mut out = Vec::new();
        Transcoder::new(super::super::schema::schema(), false).watch_event(&configmap_event(), &mut out).unwrap();
        let line = String::from_utf8(out).unwrap();
        assert_eq!(
            line,
            concat!(
                r#"{"type":"ADDED","object":{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"cm","namespace":"ns","#,
                r#""resourceVersion":"7","creationTimestamp":"2023-11-14T22:13:20Z","labels":{"app":"a\"<b>"}},"#,
                r#""data":{"k":"v\n"},"binaryData":{"bin":"AAH/"},"immutable":false}}"#,
                "\n"
            )
        );
        let event: serde_json::Value = serde_json::from_str(&line).unwrap();
        let cm: k8s_openapi::api::core::v1::ConfigMap = serde_json::from_value(event["object"].clone()).unwrap();
        assert_eq!(cm.binary_data.unwrap()["bin"].0, vec![0, 1, 255]);
    }

    proptest::proptest! {
        /// Damaged frames never panic, and whatever is written is one line of valid JSON.
        #[test]
        fn damaged_frames_fail_cleanly_or_read_as_one_json_line(
            cut in 0usize..400,
            flips in proptest::collection::vec((0usize..400, proptest::prelude::any::<u8>()), 0..4),
        ) {
            let mut frame = configmap_event();
            for (at, byte) in flips {
                let at = at % frame.len();
                frame[at] = byte;
            }
            frame.truncate(cut.min(frame.len()));
            let mut out = Vec::new();
            if Transcoder::new(super::super::schema::schema(), false).watch_event(&frame, &mut out).is_ok() {
                proptest::prop_assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), 1);
                proptest::prop_assert!(serde_json::from_slice::<serde_json::Value>(&out).is_ok(), "{}", String::from_utf8_lossy(&out));
            }
        }
    }

    #[test]
    fn durations_read_as_go_prints_them() {
        for (nanos, text) in [
            (0, "0s"),
            (1, "1ns"),
            (1_500, "1.5µs"),
            (2_000_000, "2ms"),
            (1_500_000_000, "1.5s"),
            (90 * 60 * 1_000_000_000, "1h30m0s"),
            (-61_000_000_000, "-1m1s"),
            (3_600_000_000_001, "1h0m0.000000001s"),
        ] {
            assert_eq!(go_duration(nanos), text, "{nanos}");
        }
    }

    #[test]
    fn embedded_json_is_compacted_but_strings_are_kept() {
        let mut out = Vec::new();
        compact_json(b"{ \"a b\" : [1, 2],\n \"c\\\"\": \"x y\" }", &mut out).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), r#"{"a b":[1,2],"c\"":"x y"}"#);
        assert!(compact_json(b"\"open", &mut Vec::new()).is_err());
        assert!(compact_json(br#"{"a":"b\"}"#, &mut Vec::new()).is_err());
        let mut out = Vec::new();
        compact_json(br#"{"k:{\"type\":\"Ready\"}":{}}"#, &mut out).unwrap();
        assert_eq!(out, br#"{"k:{\"type\":\"Ready\"}":{}}"#);
    }

    #[test]
    fn times_are_written_as_metav1_writes_them() {
        fn varint(mut v: u64, out: &mut Vec<u8>) {
            while v >= 0x80 {
                out.push((v as u8) | 0x80);
                v >>= 7;
            }
            out.push(v as u8);
        }
        let mut msg = vec![0x08];
        varint(1_700_000_000, &mut msg);
        msg.push(0x10);
        varint(123_456_789, &mut msg);
        let mut out = Vec::new();
        time(false, &msg, &mut out).unwrap();
        assert_eq!(String::from_utf8_lossy(&out), "\"2023-11-14T22:13:20Z\"");
        out.clear();
        time(true, &msg, &mut out).unwrap();
        assert_eq!(String::from_utf8_lossy(&out), "\"2023-11-14T22:13:20.123456Z\"");
        out.clear();
        time(false, &[], &mut out).unwrap();
        assert_eq!(out, b"null");
    }
}
