//! The protobuf wire format, as far as Kubernetes' messages use it: varints,
//! length-delimited fields and the two fixed widths.

use super::Error;

/// How a field's value is laid out on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WireType {
    Varint,
    Fixed64,
    Len,
    Fixed32,
}

/// A value as read off the wire, not yet interpreted.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Value<'a> {
    Varint(u64),
    Fixed64(u64),
    Fixed32(u32),
    Len(&'a [u8]),
}

/// Reads one message's fields in order.
#[derive(Debug, Clone)]
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    /// The next field: its number and value; `None` at the end.
    pub(crate) fn field(&mut self) -> Result<Option<(u32, Value<'a>)>, Error> {
        if self.pos >= self.buf.len() {
            return Ok(None);
        }
        let tag = self.varint()?;
        let number = u32::try_from(tag >> 3).map_err(|_| Error::Malformed("field number out of range"))?;
        if number == 0 {
            return Err(Error::Malformed("field number 0"));
        }
        let value = match tag & 7 {
            0 => Value::Varint(self.varint()?),
            1 => Value::Fixed64(u64::from_le_bytes(self.take(8)?.try_into().unwrap_or_default())),
            2 => {
                let len = usize::try_from(self.varint()?).map_err(|_| Error::Malformed("length out of range"))?;
                Value::Len(self.take(len)?)
            }
            5 => Value::Fixed32(u32::from_le_bytes(self.take(4)?.try_into().unwrap_or_default())),
            _ => return Err(Error::Malformed("unsupported wire type (groups are not used by Kubernetes)")),
        };
        Ok(Some((number, value)))
    }

    /// A varint at the current position.
    pub(crate) fn varint(&mut self) -> Result<u64, Error> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let Some(&byte) = self.buf.get(self.pos) else {
                return Err(Error::Malformed("truncated varint"));
            };
            self.pos += 1;
            value |= u64::from(byte & 0x7f) << shift;
            if byte < 0x80 {
                return Ok(value);
            }
        }
        Err(Error::Malformed("varint longer than 10 bytes"))
    }

    fn take(&mut self, len: usize) -> Result<&'a [u8], Error> {
        let end = self.pos.checked_add(len).filter(|&end| end <= self.buf.len());
        let end = end.ok_or(Error::Malformed("field runs past the end of its message"))?;
        let bytes = &self.buf[self.pos..end];
        self.pos = end;
        Ok(bytes)
    }

    /// Whether every byte was read.
    pub(crate) fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }
}

impl Value<'_> {
    pub(crate) fn wire_type(&self) -> WireType {
        match self {
            Value::Varint(_) => WireType::Varint,
            Value::Fixed64(_) => WireType::Fixed64,
            Value::Fixed32(_) => WireType::Fixed32,
            Value::Len(_) => WireType::Len,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_each_wire_type_and_refuses_truncation() {
        // field 1 varint 300, field 2 "hi", field 3 fixed64 1, field 4 fixed32 2
        let bytes = [0x08, 0xac, 0x02, 0x12, 2, b'h', b'i', 0x19, 1, 0, 0, 0, 0, 0, 0, 0, 0x25, 2, 0, 0, 0];
        let mut r = Reader::new(&bytes);
        assert!(matches!(r.field().unwrap(), Some((1, Value::Varint(300)))));
        assert!(matches!(r.field().unwrap(), Some((2, Value::Len(b"hi")))));
        assert!(matches!(r.field().unwrap(), Some((3, Value::Fixed64(1)))));
        assert!(matches!(r.field().unwrap(), Some((4, Value::Fixed32(2)))));
        assert!(r.field().unwrap().is_none());
        for cut in 1..bytes.len() {
            let mut r = Reader::new(&bytes[..cut]);
            let mut result = Ok(None);
            for _ in 0..5 {
                result = r.field();
                if !matches!(result, Ok(Some(_))) {
                    break;
                }
            }
            // Cutting inside a field is an error; cutting between fields is a shorter message.
            if [3, 7, 16].contains(&cut) {
                assert!(matches!(result, Ok(None)), "cut at {cut}");
            } else {
                assert!(result.is_err(), "cut at {cut}");
            }
        }
    }

    #[test]
    fn negative_int32_is_a_ten_byte_varint() {
        let bytes = [0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
        let Some((1, Value::Varint(v))) = Reader::new(&bytes).field().unwrap() else { panic!() };
        assert_eq!(v as i64, -1);
    }
}
