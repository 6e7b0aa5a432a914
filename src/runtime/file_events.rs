//! What a file notification means to a watcher that then reads the file (the auth watcher, the
//! store watcher): a change still arriving, a change already whole, or only somebody reading it.
//! Reads (an open, a close without writing) are never a change: a watcher woken by them would
//! wake itself with every read it makes, forever.

use notify::event::{AccessKind, AccessMode, EventKind, ModifyKind};

/// A change to a watched file, by how soon reading it shows the whole of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Content may still be arriving (a write, a truncation, a new file, its metadata): read once
    /// the burst has settled.
    Settling,
    /// Whole the moment it is reported: a writer closed the file, a name was moved onto or off
    /// it, or it was removed. Read at once.
    Whole,
}

/// The change `kind` reports, or `None` for a read (opening, closing without writing).
pub fn change(kind: &EventKind) -> Option<Change> {
    match kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => Some(Change::Whole),
        EventKind::Access(_) => None,
        EventKind::Modify(ModifyKind::Name(_)) | EventKind::Remove(_) => Some(Change::Whole),
        EventKind::Create(_) | EventKind::Modify(_) | EventKind::Any | EventKind::Other => Some(Change::Settling),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use notify::event::{CreateKind, DataChange, MetadataKind, RemoveKind, RenameMode};

    #[test]
    fn reads_are_no_change_whoever_makes_them() {
        for mode in [
            AccessMode::Any,
            AccessMode::Read,
            AccessMode::Execute,
            AccessMode::Other,
        ] {
            assert_eq!(change(&EventKind::Access(AccessKind::Open(mode))), None);
        }
        assert_eq!(change(&EventKind::Access(AccessKind::Open(AccessMode::Write))), None);
        assert_eq!(change(&EventKind::Access(AccessKind::Close(AccessMode::Read))), None);
        assert_eq!(change(&EventKind::Access(AccessKind::Read)), None);
        assert_eq!(change(&EventKind::Access(AccessKind::Any)), None);
    }

    #[test]
    fn a_closed_writer_a_rename_and_a_removal_are_whole_at_once() {
        assert_eq!(
            change(&EventKind::Access(AccessKind::Close(AccessMode::Write))),
            Some(Change::Whole)
        );
        for mode in [RenameMode::To, RenameMode::From, RenameMode::Both, RenameMode::Any] {
            assert_eq!(change(&EventKind::Modify(ModifyKind::Name(mode))), Some(Change::Whole));
        }
        assert_eq!(change(&EventKind::Remove(RemoveKind::File)), Some(Change::Whole));
    }

    #[test]
    fn the_store_watcher_is_not_touched_by_reads_of_the_store_files_but_by_a_write() {
        use std::sync::mpsc::channel;
        use std::time::Duration;
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("balancer.sqlite");
        let wal = dir.path().join("balancer.sqlite-wal");
        std::fs::write(&store, "db").unwrap();
        std::fs::write(&wal, "wal").unwrap();
        let (tx, touched) = channel();
        let _watch = crate::store::watch::watch(&store, move || {
            let _ = tx.send(());
        })
        .expect("file notifications work here");
        for _ in 0..10 {
            std::fs::read(&store).unwrap();
            std::fs::read(&wal).unwrap();
        }
        let woken = touched.recv_timeout(Duration::from_millis(300));
        assert!(woken.is_err(), "reading the store's files touched the watcher");
        std::fs::write(&wal, "a commit").unwrap();
        assert!(touched.recv_timeout(Duration::from_secs(10)).is_ok(), "a write does");
    }

    #[test]
    fn writes_creations_and_metadata_settle_before_a_read() {
        let settling = [
            EventKind::Modify(ModifyKind::Data(DataChange::Any)),
            EventKind::Modify(ModifyKind::Metadata(MetadataKind::Any)),
            EventKind::Modify(ModifyKind::Any),
            EventKind::Create(CreateKind::File),
            EventKind::Any,
            EventKind::Other,
        ];
        for kind in settling {
            assert_eq!(change(&kind), Some(Change::Settling), "{kind:?}");
        }
    }
}
