"""A partition transaction reads its own uncommitted changes, merged with the store, in key order."""

from engine.store import StorePartition


def test_transaction_scan_merges_changes_with_the_store(tmp_path):
    store = StorePartition(tmp_path / "p0")
    tx = store.transaction()
    for key in (b"a/1", b"b/1", b"b/3", b"c/1"):
        tx.put(key, {"k": key.decode()})
    tx.commit(0)
    tx = store.transaction()
    tx.put(b"b/2", {"k": "new"})
    tx.put(b"b/3", {"k": "changed"})
    tx.delete(b"b/1")
    tx.put(b"b", {"k": "not under the prefix b/"})
    tx.put(b"b0", {"k": "not under the prefix b/"})
    assert list(tx.scan(b"b/")) == [(b"b/2", {"k": "new"}), (b"b/3", {"k": "changed"})]
    tx.delete(b"b/2")
    tx.put(b"b/1", {"k": "again"})
    assert [k for k, _ in tx.scan(b"b/")] == [b"b/1", b"b/3"]
    tx.commit(1)
    assert [k for k, _ in store.scan(b"b/")] == [b"b/1", b"b/3"]
    assert list(store.transaction().scan(b"b/")) == list(store.scan(b"b/"))
    store.close()
