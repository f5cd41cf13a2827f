//! A heap buffer whose start is aligned for direct I/O, without any `unsafe`.
//!
//! O_DIRECT needs the buffer address, the length and the file offset aligned to the device's
//! logical block size. We over-allocate a `Vec<u8>` by `align` bytes and hand out the aligned
//! window inside it; the vector is never grown, so its heap address never moves.

/// The alignment used for every I/O buffer: a page, which satisfies any logical block size up
/// to 4096 bytes and the page-size requirement of some filesystems.
pub const IO_ALIGN: usize = 4096;

/// A zero-initialised, `IO_ALIGN`-aligned byte buffer of a fixed length.
pub struct AlignedBuf {
    storage: Vec<u8>,
    start: usize,
    len: usize,
}

impl AlignedBuf {
    /// Allocates `len` zeroed bytes starting at an `IO_ALIGN` boundary.
    ///
    /// # Panics
    /// If `len + IO_ALIGN` overflows (callers cap buffers at 1 GiB).
    pub fn new(len: usize) -> Self {
        let total = len
            .checked_add(IO_ALIGN)
            .expect("an I/O buffer size that fits in memory");
        let storage = vec![0u8; total];
        let start = storage.as_ptr().align_offset(IO_ALIGN);
        // align_offset on a u8 pointer always succeeds and is < IO_ALIGN.
        debug_assert!(start < IO_ALIGN);
        AlignedBuf {
            storage,
            start,
            len,
        }
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True for a zero-length buffer.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl std::ops::Deref for AlignedBuf {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.storage[self.start..self.start + self.len]
    }
}

impl std::ops::DerefMut for AlignedBuf {
    fn deref_mut(&mut self) -> &mut [u8] {
        &mut self.storage[self.start..self.start + self.len]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_are_aligned_zeroed_and_sized() {
        for len in [0, 1, 4095, 4096, 1 << 20] {
            let b = AlignedBuf::new(len);
            assert_eq!(b.len(), len);
            assert_eq!(b.as_ptr() as usize % IO_ALIGN, 0);
            assert!(b.iter().all(|&x| x == 0));
        }
    }
}
