//! One nightly at a time per state folder: an exclusive advisory lock on `STATE/nightly.lock`
//! (flock; released by the system when the process ends, however it ends), holding the pid
//! of its owner for the refusal message. `outcomes import` takes the same lock.

use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use super::NightlyError;

/// The held lock; released on drop.
#[derive(Debug)]
pub struct Lock {
    file: std::fs::File,
    path: PathBuf,
}

impl Lock {
    /// Takes the lock or says who holds it.
    pub fn take(state: &Path) -> Result<Lock, NightlyError> {
        let path = state.join("nightly.lock");
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| NightlyError::io(&path, e))?;
        match fs4::FileExt::try_lock(&file) {
            Ok(()) => {}
            Err(fs4::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                return Err(NightlyError::Locked {
                    state: state.to_path_buf(),
                    lock: path,
                    holder: holder.trim().to_string(),
                });
            }
            Err(fs4::TryLockError::Error(e)) => return Err(NightlyError::io(&path, e)),
        }
        let _ = file.set_len(0);
        let _ = file.rewind();
        let _ = write!(file, "{}", std::process::id());
        let _ = file.flush();
        Ok(Lock { file, path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = fs4::FileExt::unlock(&self.file);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_until_the_first_is_done() {
        let d = tempfile::tempdir().unwrap();
        let a = Lock::take(d.path()).unwrap();
        let e = Lock::take(d.path()).unwrap_err();
        assert_eq!(e.exit_code(), 4);
        assert!(
            e.to_string().contains(&std::process::id().to_string()),
            "{e}"
        );
        drop(a);
        assert!(Lock::take(d.path()).is_ok());
    }
}
