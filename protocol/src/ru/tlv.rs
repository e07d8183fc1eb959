//! TLV framing: `tag u16 LE | length u16 LE | value`, borrowed, with no interpretation.
//!
//! [`Reader`] walks one level of TLVs over a slice and borrows every value; an STLV's value is
//! read with another `Reader` ([`Tlv::children`]). It is hand-written in the style of rustls'
//! `Reader` rather than with nom: the grammar is a single length-prefixed item, and a
//! hand-written cursor makes the three failure modes explicit and costs no allocation.
//!
//! Invariants: a value never runs past its parent (an overrun is an error, not a short read);
//! leftover bytes too short for a TLV header are an error ("trailing bytes"), never skipped.
//! [`Writer`] is the inverse: it appends TLVs and back-patches STLV lengths.

/// Bytes of a TLV header (tag and length).
pub const TLV_HEADER_LEN: usize = 4;
/// Deepest STLV nesting accepted, the document STLV counting as depth 1. Real documents go
/// at most four deep (document, item 1059, agent data 1223, …); the bound stops stack abuse.
pub const MAX_DEPTH: usize = 8;

/// Why TLV bytes were rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TlvError {
    /// Fewer than 4 bytes where a TLV header must start.
    #[error("{0} trailing bytes too short for a TLV header")]
    TrailingBytes(usize),
    /// A length runs past the end of its parent.
    #[error("tag {tag}: length {len} runs past its parent ({available} bytes left)")]
    Overrun {
        /// Tag of the item.
        tag: u16,
        /// Its length field.
        len: usize,
        /// Bytes available in the parent after the header.
        available: usize,
    },
    /// STLVs nest deeper than [`MAX_DEPTH`].
    #[error("STLV nesting deeper than {MAX_DEPTH}")]
    TooDeep,
    /// A single top-level TLV was expected but more bytes follow it.
    #[error("{0} bytes after the TLV")]
    ExtraBytes(usize),
    /// An STLV would be longer than the u16 length field allows.
    #[error("tag {tag}: value of {len} bytes exceeds 65535")]
    ValueTooLarge {
        /// Tag being written.
        tag: u16,
        /// Its value length.
        len: usize,
    },
}

/// One TLV with a borrowed value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tlv<'a> {
    /// The tag.
    pub tag: u16,
    /// The value bytes (for an STLV, the nested TLVs).
    pub value: &'a [u8],
}

impl<'a> Tlv<'a> {
    /// A reader over this TLV's value as nested TLVs.
    pub fn children(&self) -> Reader<'a> {
        Reader::new(self.value)
    }

    /// Read exactly one TLV spanning all of `bytes` (e.g. the document STLV of a container).
    pub fn read_exact(bytes: &'a [u8]) -> Result<Self, TlvError> {
        let mut reader = Reader::new(bytes);
        let tlv = reader.read()?.ok_or(TlvError::TrailingBytes(0))?;
        if !reader.is_empty() {
            return Err(TlvError::ExtraBytes(reader.remaining()));
        }
        Ok(tlv)
    }
}

/// A cursor over a run of TLVs. Iterating yields each TLV or the first error, then stops.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A reader over `bytes`.
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { rest: bytes }
    }

    /// Whether every byte was consumed.
    pub fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// Bytes not yet read.
    pub fn remaining(&self) -> usize {
        self.rest.len()
    }

    /// The next TLV, `Ok(None)` at a clean end.
    pub fn read(&mut self) -> Result<Option<Tlv<'a>>, TlvError> {
        if self.rest.is_empty() {
            return Ok(None);
        }
        let Some((header, body)) = self.rest.split_first_chunk::<TLV_HEADER_LEN>() else {
            let n = self.rest.len();
            self.rest = &[];
            return Err(TlvError::TrailingBytes(n));
        };
        let tag = u16::from_le_bytes([header[0], header[1]]);
        let len = usize::from(u16::from_le_bytes([header[2], header[3]]));
        let Some((value, rest)) = body.split_at_checked(len) else {
            let available = body.len();
            self.rest = &[];
            return Err(TlvError::Overrun {
                tag,
                len,
                available,
            });
        };
        self.rest = rest;
        Ok(Some(Tlv { tag, value }))
    }

    /// The first TLV with `tag` at this level, checking the TLVs before it for well-formedness.
    pub fn find(mut self, tag: u16) -> Result<Option<Tlv<'a>>, TlvError> {
        while let Some(tlv) = self.read()? {
            if tlv.tag == tag {
                return Ok(Some(tlv));
            }
        }
        Ok(None)
    }
}

impl<'a> Iterator for Reader<'a> {
    type Item = Result<Tlv<'a>, TlvError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.read().transpose()
    }
}

/// Builds TLV bytes. STLVs are opened with [`Writer::begin`] and closed with [`Writer::end`],
/// which back-patches the length.
#[derive(Debug, Default, Clone)]
pub struct Writer {
    buf: Vec<u8>,
    open: Vec<(u16, usize)>,
}

impl Writer {
    /// An empty writer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Append one TLV with `value`.
    pub fn tlv(&mut self, tag: u16, value: &[u8]) -> Result<&mut Self, TlvError> {
        let len = u16::try_from(value.len()).map_err(|_| TlvError::ValueTooLarge {
            tag,
            len: value.len(),
        })?;
        self.buf.extend_from_slice(&tag.to_le_bytes());
        self.buf.extend_from_slice(&len.to_le_bytes());
        self.buf.extend_from_slice(value);
        Ok(self)
    }

    /// Append a TLV whose value `fill` writes directly into the buffer (no temporary).
    pub fn tlv_with<E>(
        &mut self,
        tag: u16,
        fill: impl FnOnce(&mut Vec<u8>) -> Result<(), E>,
    ) -> Result<&mut Self, E>
    where
        E: From<TlvError>,
    {
        let start = self.buf.len();
        self.buf.extend_from_slice(&tag.to_le_bytes());
        self.buf.extend_from_slice(&[0, 0]);
        fill(&mut self.buf)?;
        self.patch(tag, start)?;
        Ok(self)
    }

    /// Append a Byte TLV.
    pub fn byte(&mut self, tag: u16, value: u8) -> Result<&mut Self, TlvError> {
        self.tlv(tag, &[value])
    }

    /// Append a U32 (or UnixTime) TLV, always 4 bytes.
    pub fn u32(&mut self, tag: u16, value: u32) -> Result<&mut Self, TlvError> {
        self.tlv(tag, &value.to_le_bytes())
    }

    /// Open an STLV; its children follow until the matching [`Writer::end`].
    pub fn begin(&mut self, tag: u16) -> Result<&mut Self, TlvError> {
        if self.open.len() >= MAX_DEPTH {
            return Err(TlvError::TooDeep);
        }
        self.open.push((tag, self.buf.len()));
        self.buf.extend_from_slice(&tag.to_le_bytes());
        self.buf.extend_from_slice(&[0, 0]);
        Ok(self)
    }

    /// Close the innermost open STLV. Closing with none open does nothing.
    pub fn end(&mut self) -> Result<&mut Self, TlvError> {
        if let Some((tag, start)) = self.open.pop() {
            self.patch(tag, start)?;
        }
        Ok(self)
    }

    fn patch(&mut self, tag: u16, start: usize) -> Result<(), TlvError> {
        let len = self.buf.len() - start - TLV_HEADER_LEN;
        let len16 = u16::try_from(len).map_err(|_| TlvError::ValueTooLarge { tag, len })?;
        self.buf[start + 2..start + 4].copy_from_slice(&len16.to_le_bytes());
        Ok(())
    }

    /// The bytes written, closing any STLV still open.
    pub fn finish(mut self) -> Result<Vec<u8>, TlvError> {
        while !self.open.is_empty() {
            self.end()?;
        }
        Ok(self.buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s).unwrap()
    }

    #[test]
    fn reads_repeated_and_nested() {
        let bytes = h("0b001000b50404000c000000b504040009000000");
        let doc = Tlv::read_exact(&bytes).unwrap();
        assert_eq!(doc.tag, 11);
        let items: Vec<_> = doc.children().collect::<Result<_, _>>().unwrap();
        assert_eq!(items.len(), 2);
        assert!(items.iter().all(|t| t.tag == 1205));
        assert_eq!(items[1].value, &[9, 0, 0, 0]);

        let bytes = h("070010002c040c0017040800f70304002a000000");
        let doc = Tlv::read_exact(&bytes).unwrap();
        let msg = doc.children().find(1068).unwrap().unwrap();
        let inner = msg.children().find(1047).unwrap().unwrap();
        let leaf = inner.children().find(1015).unwrap().unwrap();
        assert_eq!(leaf.value, &[42, 0, 0, 0]);
    }

    #[test]
    fn every_error_variant() {
        let mut r = Reader::new(&[1, 0, 5, 0, 1]);
        assert_eq!(
            r.read(),
            Err(TlvError::Overrun {
                tag: 1,
                len: 5,
                available: 1
            })
        );
        assert_eq!(r.read(), Ok(None), "the reader stops after an error");
        let mut r = Reader::new(&[1, 0, 0, 0, 7, 7]);
        assert!(r.read().unwrap().is_some());
        assert_eq!(r.read(), Err(TlvError::TrailingBytes(2)));
        assert_eq!(
            Tlv::read_exact(&[1, 0, 0, 0, 2, 0, 0, 0]),
            Err(TlvError::ExtraBytes(4))
        );
        assert_eq!(Tlv::read_exact(&[]), Err(TlvError::TrailingBytes(0)));
        let mut w = Writer::new();
        for _ in 0..MAX_DEPTH {
            w.begin(1).unwrap();
        }
        assert_eq!(w.begin(1).err(), Some(TlvError::TooDeep));
        let mut w = Writer::new();
        assert_eq!(
            w.tlv(9, &vec![0; 70_000]).err(),
            Some(TlvError::ValueTooLarge {
                tag: 9,
                len: 70_000
            })
        );
        w.begin(3).unwrap();
        w.tlv(9, &vec![0; 65_000]).unwrap();
        w.tlv(9, &vec![0; 1_000]).unwrap();
        assert!(matches!(
            w.finish(),
            Err(TlvError::ValueTooLarge { tag: 3, .. })
        ));
    }

    #[test]
    fn writer_builds_the_fixtures() {
        let mut w = Writer::new();
        w.begin(7)
            .unwrap()
            .begin(1068)
            .unwrap()
            .begin(1047)
            .unwrap();
        w.u32(1015, 42).unwrap();
        assert_eq!(
            w.finish().unwrap(),
            h("070010002c040c0017040800f70304002a000000")
        );
        let mut w = Writer::new();
        w.byte(1022, 42).unwrap();
        assert_eq!(w.finish().unwrap(), h("fe0301002a"));
    }
}
