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
