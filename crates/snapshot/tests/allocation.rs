//! Bogus lengths in a well-sealed file never make the loader allocate what
//! they announce: it checks them against the bytes left first. Measured
//! with a global allocator that records the largest single request; this
//! binary holds one test so nothing else allocates meanwhile.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use common::{byte_string, handmade_entry, handmade_file, TestDir};
use daisy_keyspace::Db;
use daisy_snapshot::{load_snapshot, snapshot_file_name, ExpiredOnLoad};

struct LargestRequest;

static LARGEST: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for LargestRequest {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `alloc` above with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LARGEST.fetch_max(new_size, Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: LargestRequest = LargestRequest;

/// The loader's own buffers: 256 KiB to verify, 256 KiB to read.
const LOADER_BUFFERS_BYTES: usize = 256 * 1024;

#[test]
fn bogus_lengths_allocate_nothing_like_what_they_announce() {
    let dir = TestDir::new("allocation");
    let path = dir.path().join(snapshot_file_name(1));
    let bogus: Vec<Vec<u8>> = vec![
        // A key of 4 GiB - 1.
        [vec![1, 0], u32::MAX.to_le_bytes().to_vec()].concat(),
        // A string value of 4 GiB - 1 behind a real key.
        handmade_entry(1, b"k", None, &u32::MAX.to_le_bytes()),
        // Lists, sets, hashes and sorted sets of 2^32 - 1 elements.
        handmade_entry(2, b"k", None, &u64::from(u32::MAX).to_le_bytes()),
        handmade_entry(3, b"k", None, &u64::from(u32::MAX).to_le_bytes()),
        handmade_entry(4, b"k", None, &u64::from(u32::MAX).to_le_bytes()),
        handmade_entry(5, b"k", None, &u64::from(u32::MAX).to_le_bytes()),
        // A plausible count, then a member of 4 GiB - 1.
        handmade_entry(
            3,
            b"k",
            None,
            &[
                2u64.to_le_bytes().to_vec(),
                byte_string(b"a"),
                u32::MAX.to_le_bytes().to_vec(),
            ]
            .concat(),
        ),
    ];
    for body in bogus {
        let mut padded = body.clone();
        // Some real bytes after it, so "bytes left" is not simply zero.
        padded.extend(std::iter::repeat_n(0xAB, 4_096));
        std::fs::write(&path, handmade_file(1, &padded, 1)).expect("write");
        LARGEST.store(0, Ordering::Relaxed);
        let mut db = Db::new(1);
        let result =
            load_snapshot(&path).and_then(|loaded| loaded.apply_to(&mut db, ExpiredOnLoad::Keep));
        let largest = LARGEST.load(Ordering::Relaxed);
        assert!(result.is_err(), "bogus entry {body:?} accepted");
        assert!(
            largest <= LOADER_BUFFERS_BYTES + 64 * 1024,
            "largest allocation {largest} bytes for bogus entry {body:?}"
        );
    }
}
