//! The files a run writes (results, JSON summary, HTML report) and the lock beside the results file, checked
//! before any portal contact (product spec §5 "Files", §6).
//!
//! Why a module of its own: a scheduler must be able to tell "another run is busy" (exit 5,
//! harmless) from "this job is misconfigured" (exit 2, needs a person). So the one place that
//! touches these paths up front decides: only a lock held by another run is [`OutputError::Locked`];
//! every other problem — a symbolic link, a missing directory, a permission, a read-only file
//! system — is a usage error that names the path and the OS error.
//!
//! Symbolic links are refused (a dangling one too) so that a run can never be steered into
//! overwriting some other file. The lock is keyed on the canonical directory of the results
//! file plus its name, so two spellings of one file (`./x/../x/r.csv`, a symlinked directory)
//! contend for the same lock.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::outcome::Cause;

/// Why an output file or the lock cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// The path is a symbolic link (possibly dangling).
    #[error(
        "the {what} {} is a symbolic link; give the real path (links are refused so that a run cannot overwrite another file)",
        path.display()
    )]
    Symlink {
        /// Which file: `results file`, `summary file`, `lock file`.
        what: &'static str,
        /// The path as given.
        path: PathBuf,
    },
    /// The file or its directory cannot be created, opened or written.
    #[error("cannot write the {what} {}: {source}", path.display())]
    Io {
        /// Which file.
        what: &'static str,
        /// The path concerned.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// Another run holds the lock for this results file.
    #[error(
        "another bulk-groups run is using {} (lock {}); nothing was done",
        results.display(),
        lock.display()
    )]
    Locked {
        /// The results file.
        results: PathBuf,
        /// The lock file.
        lock: PathBuf,
    },
}

impl OutputError {
    /// Contention for the lock is its own cause; every other file problem makes the run
    /// unusable.
    pub fn cause(&self) -> Cause {
        match self {
            OutputError::Locked { .. } => Cause::Locked,
            _ => Cause::Unusable,
        }
    }

    fn io(what: &'static str, path: &Path) -> impl FnOnce(io::Error) -> OutputError {
        let path = path.to_owned();
        move |source| OutputError::Io { what, path, source }
    }
}

/// Check that a file the run will write at `path` can be written there: not a symbolic link,
/// not a directory, and its directory exists and takes new files (probed with a temporary file,
/// which is also how the JSON summary is written: a sibling renamed into place).
pub fn check_writable(what: &'static str, path: &Path) -> Result<(), OutputError> {
    refuse_link(what, path)?;
    if path.is_dir() {
        return Err(OutputError::io(what, path)(io::Error::new(
            io::ErrorKind::IsADirectory,
            "it is a directory",
        )));
    }
    let (probe, file) = sibling_temp(path).map_err(OutputError::io(what, path))?;
    drop(file);
    std::fs::remove_file(&probe).map_err(OutputError::io(what, path))
}

/// Write `bytes` to `path` atomically: a sibling temporary file, synced, renamed over `path`,
/// so a reader sees the old file or the new one, never half of one. A symbolic link at `path`
/// is refused, not replaced. `what` names the file in the error.
pub(crate) fn write_atomically(
    what: &'static str,
    path: &Path,
    bytes: &[u8],
) -> Result<(), OutputError> {
    refuse_link(what, path)?;
    let (temp, mut file) = sibling_temp(path).map_err(OutputError::io(what, path))?;
    let written = file
        .write_all(bytes)
        .and_then(|()| file.sync_all())
        .and_then(|()| std::fs::rename(&temp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written.map_err(OutputError::io(what, path))
}

/// Create `.<name>.<pid>.tmp` beside `path`, for writing a file that is then renamed into place
/// (or for probing the directory). Created exclusively, so never through a link someone
/// planted there; a stale one left by a crashed process with the same id is replaced. Plain
/// `std` rather than `tempfile`, whose errors name their random file instead of the user's.
pub(crate) fn sibling_temp(path: &Path) -> io::Result<(PathBuf, File)> {
    let mut name = std::ffi::OsString::from(".");
    name.push(path.file_name().unwrap_or_default());
    name.push(format!(".{}.tmp", std::process::id()));
    let temp = directory(path).join(name);
    let create = || OpenOptions::new().write(true).create_new(true).open(&temp);
    let file = match create() {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            std::fs::remove_file(&temp)?;
            create()?
        }
        other => other?,
    };
    Ok((temp, file))
}

/// An error unless `path` is not a symbolic link (a missing path is fine: it will be created).
pub(crate) fn refuse_link(what: &'static str, path: &Path) -> Result<(), OutputError> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => Err(OutputError::Symlink {
            what,
            path: path.to_owned(),
        }),
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(OutputError::io(what, path)(e)),
    }
}

/// The directory a relative or absolute file path lives in (`.` for a bare file name).
fn directory(path: &Path) -> &Path {
    path.parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// The advisory lock (`flock`) for one results file, held while this value lives. The kernel
/// releases it when the process dies, so a killed run never blocks the next one. The lock file
/// itself stays on disk between runs; only a process holding the lock counts.
#[derive(Debug)]
pub struct RunLock {
    _file: File,
}

impl RunLock {
    /// Take the lock for `results`: `<canonical dir of results>/<results name>.lock`.
    pub fn acquire(results: &Path) -> Result<RunLock, OutputError> {
        let name = results.file_name().ok_or_else(|| {
            OutputError::io("results file", results)(io::Error::new(
                io::ErrorKind::InvalidInput,
                "the path does not end in a file name",
            ))
        })?;
        let dir = std::fs::canonicalize(directory(results))
            .map_err(OutputError::io("results file", results))?;
        let mut lock_name = name.to_owned();
        lock_name.push(".lock");
        let path = dir.join(lock_name);
        refuse_link("lock file", &path)?;
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(OutputError::io("lock file", &path))?;
        match fs4::fs_std::FileExt::try_lock_exclusive(&file) {
            Ok(true) => Ok(RunLock { _file: file }),
            Ok(false) => Err(OutputError::Locked {
                results: results.to_owned(),
                lock: path,
            }),
            Err(e) => Err(OutputError::io("lock file", &path)(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_file_in_an_existing_directory_is_writable() {
        let dir = tempfile::tempdir().unwrap();
        check_writable("summary file", &dir.path().join("s.json")).unwrap();
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "the probe leaves nothing behind"
        );
    }

    #[test]
    fn links_directories_and_missing_directories_are_refused_with_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("link.json");
        std::os::unix::fs::symlink(dir.path().join("nowhere"), &link).unwrap();
        let err = check_writable("summary file", &link).unwrap_err();
        assert!(matches!(err, OutputError::Symlink { .. }), "{err}");
        assert_eq!(err.cause(), Cause::Unusable);

        let err = check_writable("summary file", dir.path()).unwrap_err();
        assert!(err.to_string().contains("directory"), "{err}");

        let missing = dir.path().join("no/such/dir/s.json");
        let err = check_writable("summary file", &missing).unwrap_err();
        let text = err.to_string();
        assert!(text.contains(&*missing.to_string_lossy()), "{text}");
        assert!(text.contains("No such file or directory"), "{text}");
        assert_eq!(err.cause(), Cause::Unusable);
    }

    #[test]
    fn two_spellings_of_one_results_file_share_one_lock() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("x")).unwrap();
        let first = RunLock::acquire(&dir.path().join("x/r.csv")).unwrap();
        let err = RunLock::acquire(&dir.path().join("x/../x/r.csv")).unwrap_err();
        assert_eq!(err.cause(), Cause::Locked, "{err}");
        drop(first);
        RunLock::acquire(&dir.path().join("x/../x/r.csv")).unwrap();
    }

    #[test]
    fn a_lock_in_a_missing_directory_is_a_usage_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = RunLock::acquire(&dir.path().join("gone/r.csv")).unwrap_err();
        assert_eq!(err.cause(), Cause::Unusable, "{err}");
        assert!(err.to_string().contains("gone"), "{err}");
    }
}
