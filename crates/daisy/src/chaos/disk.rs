//! Real disks for the disk faults: each data node's data directory is a
//! small ext4 file system of its own (a sparse image in the chaos
//! directory, formatted with no reserved blocks, attached to a loop device
//! and mounted), and each data node runs in a block-I/O cgroup of its own.
//!
//! - `slow-disk` throttles the write operations per second of the node's
//!   loop device in its cgroup (`blkio.throttle.write_iops_device` under
//!   cgroup v1, `io.max` `wiops=` under v2): an fsync then takes tens to
//!   hundreds of milliseconds. (A bytes-per-second throttle does not slow
//!   small fsyncs on a loop device; an operations throttle does.)
//! - `disk-full` fills the node's file system with a filler file until the
//!   kernel says ENOSPC; removing it heals.
//!
//! Needs root (CAP_SYS_ADMIN), `mkfs.ext4`, `losetup`, and the blkio (v1)
//! or io (v2) cgroup controller; [`check_requirements`] says what is
//! missing before anything is set up.
//!
//! Must never: leave a mount, a loop device or a cgroup behind. Every
//! [`NodeDisk`] is registered from the moment it owns anything; its
//! teardown (idempotent) runs when the cluster is dropped (a normal end,
//! an error, an interrupt, a panic that unwinds), and from the panic hook
//! when panics abort ([`teardown_all`]).

use std::ffi::CString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// Size of each node's file system (the image is sparse).
const IMAGE_BYTES: u64 = 256 * 1024 * 1024;
/// The tools the setup runs.
const TOOLS: [&str; 2] = ["mkfs.ext4", "losetup"];
/// Where tools are looked for besides `PATH` (root's usual `sbin`s).
const TOOL_DIRS: [&str; 4] = ["/usr/sbin", "/sbin", "/usr/bin", "/bin"];
/// The cgroup v1 blkio hierarchy, and the root of a cgroup v2 hierarchy.
const BLKIO_V1: &str = "/sys/fs/cgroup/blkio";
const CGROUP_ROOT: &str = "/sys/fs/cgroup";
/// CAP_SYS_ADMIN's bit in `CapEff` (mount, loop devices, cgroups).
const CAP_SYS_ADMIN_BIT: u32 = 21;
/// How long a teardown waits for a cgroup's processes to exit, and for a
/// busy mount.
const TEARDOWN_WAIT: Duration = Duration::from_secs(5);
const TEARDOWN_POLL: Duration = Duration::from_millis(20);
/// Chunks of the filler's last writes, largest first, each written until
/// ENOSPC; and a bound on all of them together.
const FILL_CHUNKS: [usize; 3] = [1 << 20, 64 << 10, 4 << 10];
const FILL_WRITES_MAX: usize = 1 << 17;
/// The filler's name, at the root of the node's file system.
const FILLER: &str = "chaos-filler";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CgroupVersion {
    V1,
    V2,
}

/// Says what the disk faults need and this process lacks, if anything.
pub fn check_requirements() -> Result<(), String> {
    let mut missing = Vec::new();
    if !has_sys_admin() {
        missing.push("root with CAP_SYS_ADMIN (to mount file systems, attach loop devices and manage cgroups)".to_string());
    }
    for tool in TOOLS {
        if find_tool(tool).is_none() {
            missing.push(format!("{tool} (in PATH or /usr/sbin, /sbin)"));
        }
    }
    if cgroup_version().is_none() {
        missing.push(format!(
            "the blkio cgroup controller mounted at {BLKIO_V1} (cgroup v1), or a cgroup v2 hierarchy at {CGROUP_ROOT} with the io controller"
        ));
    }
    if !Path::new("/dev/loop-control").exists() {
        missing.push("loop devices (/dev/loop-control)".to_string());
    }
    if missing.is_empty() {
        return Ok(());
    }
    Err(format!(
        "the slow-disk and disk-full faults give every data node a real file system on a loop device and a block-I/O cgroup; missing: {}",
        missing.join("; ")
    ))
}

fn has_sys_admin() -> bool {
    let Ok(status) = fs::read_to_string("/proc/self/status") else {
        return false;
    };
    status
        .lines()
        .find_map(|line| line.strip_prefix("CapEff:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        .is_some_and(|caps| caps & (1 << CAP_SYS_ADMIN_BIT) != 0)
}

fn find_tool(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(TOOL_DIRS.iter().map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

fn cgroup_version() -> Option<CgroupVersion> {
    if Path::new(BLKIO_V1)
        .join("blkio.throttle.write_iops_device")
        .exists()
    {
        return Some(CgroupVersion::V1);
    }
    let controllers = fs::read_to_string(Path::new(CGROUP_ROOT).join("cgroup.controllers")).ok()?;
    controllers
        .split_whitespace()
        .any(|c| c == "io")
        .then_some(CgroupVersion::V2)
}

fn run(program: &str, args: &[&str]) -> Result<String, String> {
    let tool = find_tool(program).unwrap_or_else(|| PathBuf::from(program));
    let output = Command::new(&tool)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", tool.display()))?;
    if !output.status.success() {
        return Err(format!(
            "{program} {} failed ({}): {}",
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
}

/// What one node's disk holds; every field is set once it exists, so a
/// teardown undoes exactly what was done.
#[derive(Default)]
struct Parts {
    loop_device: Option<PathBuf>,
    mounted: bool,
    cgroup: Option<PathBuf>,
}

/// One data node's file system and cgroup.
pub struct NodeDisk {
    name: String,
    image: PathBuf,
    mount_point: PathBuf,
    version: CgroupVersion,
    /// "MAJOR:MINOR" of the loop device.
    device_number: String,
    parts: Mutex<Parts>,
}

/// Every node disk that owns something, for the panic hook.
static REGISTERED: Mutex<Vec<Arc<NodeDisk>>> = Mutex::new(Vec::new());

/// Tears down every registered disk: for the panic hook when panics abort
/// (no destructor runs then). Kills whatever still runs in their cgroups.
#[cfg_attr(not(panic = "abort"), allow(dead_code))]
pub fn teardown_all() {
    let disks: Vec<Arc<NodeDisk>> = match REGISTERED.try_lock() {
        Ok(registered) => registered.clone(),
        Err(std::sync::TryLockError::Poisoned(poison)) => poison.into_inner().clone(),
        Err(std::sync::TryLockError::WouldBlock) => return,
    };
    for disk in disks {
        if let Err(error) = disk.teardown() {
            eprintln!("daisy chaos: {error}");
        }
    }
}

impl NodeDisk {
    /// Creates, formats, attaches and mounts `name`'s file system under
    /// `dir`, and creates its cgroup. On error, what was set up is undone.
    pub fn create(dir: &Path, name: &str) -> Result<Arc<NodeDisk>, String> {
        let version = cgroup_version().ok_or("no block-I/O cgroup controller")?;
        let image = dir.join(format!("{name}.img"));
        let mount_point = dir.join(format!("{name}-fs"));
        let _ = fs::remove_file(&image);
        File::create(&image)
            .and_then(|f| f.set_len(IMAGE_BYTES))
            .map_err(|e| format!("{}: {e}", image.display()))?;
        let image_text = image.display().to_string();
        run("mkfs.ext4", &["-q", "-F", "-m", "0", &image_text])?;
        let device = run("losetup", &["-f", "--show", &image_text])?;
        let mut disk = NodeDisk {
            name: name.to_string(),
            image,
            mount_point,
            version,
            device_number: String::new(),
            parts: Mutex::new(Parts {
                loop_device: Some(PathBuf::from(&device)),
                ..Parts::default()
            }),
        };
        // From here on, a failure tears down what exists.
        let numbered = device_number(Path::new(&device));
        let disk = match numbered {
            Ok(number) => {
                disk.device_number = number;
                Arc::new(disk)
            }
            Err(error) => {
                let _ = disk.teardown();
                return Err(error);
            }
        };
        REGISTERED
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(disk.clone());
        if let Err(error) = disk.mount_and_join(&device) {
            let _ = disk.teardown();
            return Err(error);
        }
        Ok(disk)
    }

    fn mount_and_join(&self, device: &str) -> Result<(), String> {
        fs::create_dir_all(&self.mount_point)
            .map_err(|e| format!("{}: {e}", self.mount_point.display()))?;
        mount_ext4(Path::new(device), &self.mount_point)?;
        self.lock().mounted = true;
        fs::create_dir_all(self.data_dir())
            .map_err(|e| format!("{}: {e}", self.data_dir().display()))?;
        let cgroup = self.cgroup_path();
        if self.version == CgroupVersion::V2 {
            enable_io_controller()?;
        }
        let _ = fs::remove_dir(&cgroup);
        fs::create_dir(&cgroup).map_err(|e| format!("{}: {e}", cgroup.display()))?;
        self.lock().cgroup = Some(cgroup);
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Parts> {
        self.parts.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The node's data directory, on its own file system.
    pub fn data_dir(&self) -> PathBuf {
        self.mount_point.join("data")
    }

    fn cgroup_path(&self) -> PathBuf {
        let root = match self.version {
            CgroupVersion::V1 => BLKIO_V1,
            CgroupVersion::V2 => CGROUP_ROOT,
        };
        Path::new(root).join(format!("daisy-chaos-{}-{}", std::process::id(), self.name))
    }

    /// The file a process writes "0" to, to join the node's cgroup.
    pub fn cgroup_procs(&self) -> PathBuf {
        self.cgroup_path().join("cgroup.procs")
    }

    /// Limits the node's writes to `write_iops` a second (0 lifts it).
    pub fn throttle(&self, write_iops: u64) -> Result<(), String> {
        let (file, line) = match self.version {
            CgroupVersion::V1 => (
                "blkio.throttle.write_iops_device",
                format!("{} {write_iops}", self.device_number),
            ),
            CgroupVersion::V2 if write_iops == 0 => {
                ("io.max", format!("{} wiops=max", self.device_number))
            }
            CgroupVersion::V2 => (
                "io.max",
                format!("{} wiops={write_iops}", self.device_number),
            ),
        };
        let path = self.cgroup_path().join(file);
        fs::write(&path, line.as_bytes()).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Fills the file system: allocates its free space, then writes until
    /// ENOSPC. Returns the filler's size in bytes.
    pub fn fill(&self) -> Result<u64, String> {
        let path = self.mount_point.join(FILLER);
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let free = free_bytes(&self.mount_point)?;
        if free > 0 {
            let length = libc::off_t::try_from(free).unwrap_or(libc::off_t::MAX);
            // SAFETY: fallocate on a file we opened; failure (ENOSPC when
            // metadata needs some of the space) is fine, the writes follow.
            unsafe {
                libc::fallocate(file.as_raw_fd(), 0, 0, length);
            }
        }
        let mut writes = 0;
        for chunk in FILL_CHUNKS {
            let zeros = vec![0u8; chunk];
            loop {
                if writes >= FILL_WRITES_MAX {
                    return Err(format!("{} never filled up", self.mount_point.display()));
                }
                writes += 1;
                match file.write(&zeros) {
                    Ok(0) => break,
                    Ok(_) => {}
                    Err(e) if e.raw_os_error() == Some(libc::ENOSPC) => break,
                    Err(e) => return Err(format!("{}: {e}", path.display())),
                }
            }
        }
        let size = file
            .metadata()
            .map_err(|e| format!("{}: {e}", path.display()))?
            .len();
        Ok(size)
    }

    /// Removes the filler (if any) and makes its space free at once.
    pub fn unfill(&self) -> Result<(), String> {
        let path = self.mount_point.join(FILLER);
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(format!("{}: {e}", path.display())),
        }
        // Blocks freed by a transaction are reusable once it commits.
        let root = File::open(&self.mount_point)
            .map_err(|e| format!("{}: {e}", self.mount_point.display()))?;
        // SAFETY: syncfs on a descriptor we own.
        unsafe {
            libc::syncfs(root.as_raw_fd());
        }
        Ok(())
    }

    /// Kills what runs in the cgroup, unmounts, detaches the loop device
    /// and removes the cgroup. Idempotent; tries every step.
    pub fn teardown(&self) -> Result<(), String> {
        let mut parts = self.lock();
        let mut errors = Vec::new();
        if let Some(cgroup) = &parts.cgroup {
            if let Err(e) = empty_cgroup(cgroup) {
                errors.push(e);
            }
        }
        if parts.mounted {
            match unmount(&self.mount_point) {
                Ok(()) => parts.mounted = false,
                Err(e) => errors.push(e),
            }
        }
        if !parts.mounted {
            if let Some(device) = parts.loop_device.take() {
                if let Err(e) = run("losetup", &["-d", &device.display().to_string()]) {
                    errors.push(e);
                    parts.loop_device = Some(device);
                }
            }
        }
        if let Some(cgroup) = parts.cgroup.take() {
            if let Err(e) = fs::remove_dir(&cgroup) {
                errors.push(format!("cannot remove {}: {e}", cgroup.display()));
                parts.cgroup = Some(cgroup);
            }
        }
        let done = !parts.mounted && parts.loop_device.is_none() && parts.cgroup.is_none();
        drop(parts);
        if done {
            REGISTERED
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .retain(|d| !std::ptr::eq(d.as_ref(), self));
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "tearing down {} ({}): {}",
                self.name,
                self.image.display(),
                errors.join("; ")
            ))
        }
    }
}

/// "MAJOR:MINOR" of a block device.
fn device_number(device: &Path) -> Result<String, String> {
    let metadata = fs::metadata(device).map_err(|e| format!("{}: {e}", device.display()))?;
    if !metadata.file_type().is_block_device() {
        return Err(format!("{} is not a block device", device.display()));
    }
    let rdev = metadata.rdev();
    Ok(format!("{}:{}", libc::major(rdev), libc::minor(rdev)))
}

fn c_path(path: &Path) -> Result<CString, String> {
    CString::new(path.as_os_str().as_encoded_bytes())
        .map_err(|_| format!("{} holds a NUL byte", path.display()))
}

fn mount_ext4(device: &Path, target: &Path) -> Result<(), String> {
    let (source, target_c) = (c_path(device)?, c_path(target)?);
    // SAFETY: NUL-terminated strings that outlive the call; no data.
    let result = unsafe {
        libc::mount(
            source.as_ptr(),
            target_c.as_ptr(),
            c"ext4".as_ptr(),
            0,
            std::ptr::null(),
        )
    };
    if result != 0 {
        return Err(format!(
            "mount {} on {}: {}",
            device.display(),
            target.display(),
            io::Error::last_os_error()
        ));
    }
    Ok(())
}

/// Unmounts, retrying while busy; detaches lazily at the end of the wait.
fn unmount(target: &Path) -> Result<(), String> {
    let target_c = c_path(target)?;
    let deadline = Instant::now() + TEARDOWN_WAIT;
    loop {
        // SAFETY: a NUL-terminated path that outlives the call.
        if unsafe { libc::umount2(target_c.as_ptr(), 0) } == 0 {
            return Ok(());
        }
        let error = io::Error::last_os_error();
        if error.raw_os_error() != Some(libc::EBUSY) || Instant::now() >= deadline {
            // SAFETY: as above.
            if unsafe { libc::umount2(target_c.as_ptr(), libc::MNT_DETACH) } == 0 {
                return Ok(());
            }
            return Err(format!("umount {}: {error}", target.display()));
        }
        thread::sleep(TEARDOWN_POLL);
    }
}

/// SIGKILLs every process left in a cgroup (only ours are ever put there)
/// and waits until it is empty.
fn empty_cgroup(cgroup: &Path) -> Result<(), String> {
    let procs = cgroup.join("cgroup.procs");
    let deadline = Instant::now() + TEARDOWN_WAIT;
    loop {
        let pids: Vec<i32> = fs::read_to_string(&procs)
            .unwrap_or_default()
            .lines()
            .filter_map(|line| line.trim().parse().ok())
            .collect();
        if pids.is_empty() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(format!("{} still holds {pids:?}", cgroup.display()));
        }
        for pid in pids {
            // SAFETY: a signal to a process in a cgroup this run created.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
        }
        thread::sleep(TEARDOWN_POLL);
    }
}

/// Under cgroup v2 the io controller must be enabled for the root's
/// children.
fn enable_io_controller() -> Result<(), String> {
    let control = Path::new(CGROUP_ROOT).join("cgroup.subtree_control");
    let enabled = fs::read_to_string(&control).unwrap_or_default();
    if enabled.split_whitespace().any(|c| c == "io") {
        return Ok(());
    }
    fs::write(&control, b"+io").map_err(|e| format!("{} (+io): {e}", control.display()))
}

fn free_bytes(path: &Path) -> Result<u64, String> {
    let path_c = c_path(path)?;
    // SAFETY: statvfs fills the zeroed struct we pass.
    let mut stats: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: a NUL-terminated path and a valid out pointer.
    if unsafe { libc::statvfs(path_c.as_ptr(), &mut stats) } != 0 {
        return Err(format!(
            "statvfs {}: {}",
            path.display(),
            io::Error::last_os_error()
        ));
    }
    Ok(stats.f_bavail.saturating_mul(stats.f_frsize))
}
