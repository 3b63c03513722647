//! The protobuf wire format, as far as Kubernetes bodies need it: varints and length-delimited fields.

use super::Error;

/// One field of a message: its number and its value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field<'a> {
    /// Wire type 0.
    Varint(u32, u64),
    /// Wire type 2: strings, bytes, nested messages, packed lists.
    Bytes(u32, &'a [u8]),
    /// Wire types 1 and 5 (fixed 64 and 32 bits), which Kubernetes types do not use; kept to skip them.
    Fixed(u32),
}

impl Field<'_> {
    /// The field number.
    pub fn number(&self) -> u32 {
        match self {
            Field::Varint(number, _) | Field::Bytes(number, _) | Field::Fixed(number) => *number,
        }
    }
}

/// Iterates over the fields of an encoded message.
pub struct Fields<'a> {
    rest: &'a [u8],
}

impl<'a> Fields<'a> {
    /// The fields of `message`.
    pub fn new(message: &'a [u8]) -> Self {
        Fields { rest: message }
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = Result<Field<'a>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        Some(self.field())
    }
}

impl<'a> Fields<'a> {
    fn field(&mut self) -> Result<Field<'a>, Error> {
        let tag = self.varint()?;
        let number =
            u32::try_from(tag >> 3).map_err(|_| Error::Malformed("field number out of range"))?;
        match tag & 7 {
            0 => Ok(Field::Varint(number, self.varint()?)),
            1 => self.skip(8).map(|()| Field::Fixed(number)),
            2 => {
                let length = usize::try_from(self.varint()?)
                    .map_err(|_| Error::Malformed("length out of range"))?;
                if length > self.rest.len() {
                    return Err(Error::Malformed("a field runs past the end of its message"));
                }
                let (bytes, rest) = self.rest.split_at(length);
                self.rest = rest;
                Ok(Field::Bytes(number, bytes))
            }
            5 => self.skip(4).map(|()| Field::Fixed(number)),
            _ => Err(Error::Malformed("unsupported wire type")),
        }
    }

    fn varint(&mut self) -> Result<u64, Error> {
        let mut value = 0u64;
        for (index, byte) in self.rest.iter().enumerate().take(10) {
            value |= u64::from(byte & 0x7f) << (7 * index);
            if byte & 0x80 == 0 {
                self.rest = &self.rest[index + 1..];
                return Ok(value);
            }
        }
        Err(Error::Malformed("truncated varint"))
    }

    fn skip(&mut self, count: usize) -> Result<(), Error> {
        if count > self.rest.len() {
            return Err(Error::Malformed("truncated fixed-width field"));
        }
        self.rest = &self.rest[count..];
        Ok(())
    }
}

/// Builds an encoded message field by field (proto3: the caller leaves out fields at their zero
/// value where that matters).
#[derive(Debug, Default)]
pub struct Encoder {
    bytes: Vec<u8>,
}

impl Encoder {
    /// An empty message.
    pub fn new() -> Self {
        Encoder::default()
    }

    /// The encoded message.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    /// A varint field (wire type 0).
    pub fn varint(&mut self, number: u32, value: u64) {
        self.tag(number, 0);
        self.raw_varint(value);
    }

    /// A `bool` field, written only when true.
    pub fn flag(&mut self, number: u32, value: bool) {
        if value {
            self.varint(number, 1);
        }
    }

    /// A length-delimited field (wire type 2): bytes, a string or an encoded message.
    pub fn bytes(&mut self, number: u32, value: &[u8]) {
        self.tag(number, 2);
        self.raw_varint(value.len() as u64);
        self.bytes.extend_from_slice(value);
    }

    /// A string field, written whatever its value (use for repeated strings).
    pub fn string(&mut self, number: u32, value: &str) {
        self.bytes(number, value.as_bytes());
    }

    /// A string field, left out when empty (proto3 scalars).
    pub fn text(&mut self, number: u32, value: &str) {
        if !value.is_empty() {
            self.string(number, value);
        }
    }

    /// A nested message, built by `build`.
    pub fn message(&mut self, number: u32, build: impl FnOnce(&mut Encoder)) {
        let mut nested = Encoder::new();
        build(&mut nested);
        self.bytes(number, &nested.bytes);
    }

    fn tag(&mut self, number: u32, wire_type: u8) {
        self.raw_varint((u64::from(number) << 3) | u64::from(wire_type));
    }

    fn raw_varint(&mut self, mut value: u64) {
        while value >= 0x80 {
            self.bytes.push((value as u8 & 0x7f) | 0x80);
            value >>= 7;
        }
        self.bytes.push(value as u8);
    }
}
