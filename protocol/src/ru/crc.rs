//! CRC-16/CCITT-FALSE, the checksum of the container and of the optional session CRC.
//!
//! Poly 0x1021, init 0xFFFF, no reflection, no final xor (the catalogue calls it
//! CRC-16/IBM-3740). The slice-by-16 table of the `crc` crate is used because the container CRC
//! is the single most expensive step of decoding a frame.

use crc::{Crc, Table, CRC_16_IBM_3740};

static CCITT_FALSE: Crc<u16, Table<16>> = Crc::<u16, Table<16>>::new(&CRC_16_IBM_3740);

/// CRC-16/CCITT-FALSE of one contiguous slice.
pub fn crc16(bytes: &[u8]) -> u16 {
    CCITT_FALSE.checksum(bytes)
}

/// CRC-16/CCITT-FALSE of several slices taken as one stream (used to skip the CRC field).
pub fn crc16_parts(parts: &[&[u8]]) -> u16 {
    let mut digest = CCITT_FALSE.digest();
    for part in parts {
        digest.update(part);
    }
    digest.finalize()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_value() {
        assert_eq!(crc16(b"123456789"), 0x29B1);
        assert_eq!(crc16_parts(&[b"1234", b"", b"56789"]), 0x29B1);
    }
}
