//! Memory accounting: a global allocator wrapper that counts live bytes,
//! so `maxmemory` and `INFO memory` report what the process really holds.

use std::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::{AtomicUsize, Ordering};

static ALLOCATED_BYTES: AtomicUsize = AtomicUsize::new(0);

/// Wraps the real allocator (the binary uses mimalloc) and counts bytes.
pub struct CountingAllocator<A>(pub A);

unsafe impl<A: GlobalAlloc> GlobalAlloc for CountingAllocator<A> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged to the wrapped allocator.
        let ptr = unsafe { self.0.alloc(layout) };
        if !ptr.is_null() {
            ALLOCATED_BYTES.fetch_add(layout.size(), Ordering::Relaxed);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged to the wrapped allocator.
        unsafe { self.0.dealloc(ptr, layout) };
        ALLOCATED_BYTES.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged to the wrapped allocator.
        let ptr = unsafe { self.0.alloc_zeroed(layout) };
        if !ptr.is_null() {
            ALLOCATED_BYTES.fetch_add(layout.size(), Ordering::Relaxed);
        }
        ptr
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded unchanged to the wrapped allocator.
        let new_ptr = unsafe { self.0.realloc(ptr, layout, new_size) };
        if !new_ptr.is_null() {
            ALLOCATED_BYTES.fetch_add(new_size, Ordering::Relaxed);
            ALLOCATED_BYTES.fetch_sub(layout.size(), Ordering::Relaxed);
        }
        new_ptr
    }
}

/// Bytes currently allocated through the counting allocator (0 when the
/// binary does not install it, e.g. in unit tests).
pub fn used_bytes() -> usize {
    ALLOCATED_BYTES.load(Ordering::Relaxed)
}

/// Resident set size of this process in bytes, from /proc (0 elsewhere).
pub fn resident_bytes() -> usize {
    let Ok(statm) = std::fs::read_to_string("/proc/self/statm") else {
        return 0;
    };
    let pages: usize = statm
        .split_whitespace()
        .nth(1)
        .and_then(|field| field.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

/// Formats bytes as Redis's `_human` fields do (`1.50M`).
pub fn human_bytes(bytes: usize) -> String {
    const UNITS: [(&str, f64); 4] = [
        ("G", 1024.0 * 1024.0 * 1024.0),
        ("M", 1024.0 * 1024.0),
        ("K", 1024.0),
        ("B", 1.0),
    ];
    let value = bytes as f64;
    for (suffix, size) in UNITS {
        if value >= size || suffix == "B" {
            return if suffix == "B" {
                format!("{bytes}B")
            } else {
                format!("{:.2}{suffix}", value / size)
            };
        }
    }
    unreachable!("the last unit always matches")
}
