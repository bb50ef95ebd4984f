"""The vineyard store: each split array is a vineyard Tensor in shared memory, named `<run>/<name>`.

Writes go straight into a blob that becomes the object: no copy, no serialization. The arrays are
published by naming them and then one `<run>/splits` object whose members are exactly this commit's
tensors and whose `manifest_` field is the manifest: readers start from `<run>/splits`, so they get
one commit, old or new, never a mix. Reads map the blobs: zero copy.

vineyard's Tensor keeps its bytes in C order (packages/core/NOTES.md, Tensors) and the fit wants
column-major matrices, so X (rows, features) is stored as the tensor X.T (features, rows): the
same bytes, read back as X with a transpose that copies nothing.
"""

import json
import math
import re

import numpy as np

from .. import faults
from .. import manifest as manifests
from ..dataset import SPLIT_NAMES, is_run_id
from ..errors import StepError
from ..layout import PARTITION, is_partition
from ..pages import populate_for_read
from ..signals import signals_deferred
from ..sizes import human
from ..vineyard import Vineyard
from ..vineyard.client import vineyard_c
from .base import SplitWriter, Store

SPLITS = "splits"
# The commit a rerun replaced, kept until the next rerun (see VineyardWriter.commit).
PREVIOUS = "splits.previous"
# A commit's splits object from when it is persisted until `<run>/splits` names it, and the commit
# `PREVIOUS` held until it is deleted: so a commit killed anywhere after its first name leaves
# every object it made or replaced named, for the next commit (`VineyardWriter.sweep`) or
# `cleanup` to free. Readers look up `<run>/splits` alone; these names start with `splits` so
# that runs.py counts the memory they hold as the run's.
PENDING = "splits.pending"
OLDER = "splits.older"
# Every name this store writes after `<run>/`; a migrated copy adds `@<instance id>`.
OWN_NAMES = frozenset((*SPLIT_NAMES, SPLITS, PREVIOUS, PENDING, OLDER))
_MIGRATED = re.compile(rf"{SPLITS}@\d+")


def run_of(name: str) -> str | None:
    """The run id in a vineyard name this project wrote, or None for any other name (another
    application's, or one whose run part is not a run id): those are never listed or deleted."""
    run_id, slash, rest = str(name).partition("/")
    if not slash or not is_run_id(run_id):
        return None
    # A partition's objects: `<run>/part-<k>/<name>`.
    part, slash, own = rest.partition("/")
    if slash and is_partition(part):
        rest = own
    return run_id if rest in OWN_NAMES or _MIGRATED.fullmatch(rest) else None


def prefix(partition: int | None) -> str:
    """What a partition's names add after `<run>/`: nothing for a one-partition run."""
    return "" if partition is None else f"{PARTITION.format(partition)}/"


def _in_partition(name: str, start: str) -> bool:
    """Whether `name` is one of the objects under `start` (`<run>/` or `<run>/part-<k>/`),
    not of another partition below it."""
    return name.startswith(start) and "/" not in name[len(start) :]


class _SealAs:
    """What `BlobBuilder.seal` asks of a client (packages/core/NOTES.md, Tensors)."""

    def __init__(self, ipc_client):
        self.ipc_client = ipc_client


def tensor_meta(blob, shape: tuple[int, ...], dtype: np.dtype):
    meta = vineyard_c().ObjectMeta()
    meta["typename"] = f"vineyard::Tensor<{_CPP_TYPES[dtype.name]}>"
    meta["value_type_"] = dtype.name
    meta["value_type_meta_"] = dtype.str
    meta["shape_"] = json.dumps(list(shape))
    meta["partition_index_"] = "[]"
    meta["order_"] = json.dumps("C")
    meta["nbytes"] = int(math.prod(shape) * dtype.itemsize)
    meta.add_member("buffer_", blob)
    return meta


_CPP_TYPES = {"float64": "double", "float32": "float", "int64": "int64", "int32": "int"}


def tensor_array(obj) -> np.ndarray:
    """A read-only numpy view of a vineyard Tensor object's blob, without copying.

    Read-only twice over: the buffer and the mapping (packages/core/NOTES.md, Tensors)."""
    meta = obj.meta
    if not meta["typename"].startswith("vineyard::Tensor<"):
        raise StepError(f"object {obj.id} is a {meta['typename']}, not a vineyard::Tensor")
    # The fields come from whoever created the object (any client of this vineyardd): checked
    # before numpy sees them, which would fail on them with its own errors.
    try:
        shape = tuple(json.loads(meta["shape_"]))
        dtype = np.dtype(meta.get("value_type_meta_") or meta["value_type_"])
    except (KeyError, TypeError, ValueError, RecursionError) as e:
        raise StepError(f"tensor {obj.id} has no readable shape and dtype ({e})") from None
    if not all(type(n) is int and n >= 0 for n in shape) or dtype.kind not in "biuf":
        raise StepError(f"tensor {obj.id} has shape {list(shape)} of {dtype}, not numbers")
    count = math.prod(shape)
    if count == 0:
        return np.zeros(shape, dtype=dtype)
    buffer = memoryview(obj.member("buffer_"))
    if len(buffer) < count * dtype.itemsize:
        raise StepError(f"tensor {obj.id} is truncated: {len(buffer)} bytes for shape {shape}")
    return np.frombuffer(buffer, dtype=dtype, count=count).reshape(shape)


class VineyardWriter(SplitWriter):
    def __init__(self, store: "VineyardStore", run_id: str):
        self.store = store
        self.run_id = run_id
        self.builders: dict[str, tuple] = {}  # name -> (builder, stored shape, logical array)

    def allocate(self, name: str, shape: tuple[int, ...], order: str = "C") -> np.ndarray:
        C = vineyard_c()
        stored_shape = tuple(reversed(shape)) if order == "F" else tuple(shape)
        nbytes = max(1, math.prod(shape) * 8)
        try:
            builder = self.store.client.create_blob(nbytes)
        except C.NotEnoughMemoryException:
            raise self._out_of_memory(name, nbytes) from None
        stored = np.frombuffer(memoryview(builder), dtype=np.float64, count=math.prod(shape))
        stored = stored.reshape(stored_shape)
        array = stored.T if order == "F" else stored
        self.builders[name] = (builder, stored_shape, array)
        return array

    def fault_in(self) -> None:
        """Fault in the memory of every array allocated so far (else each page faults in as
        it is first written)."""
        for _, _, array in self.builders.values():
            # By reading: 16 pages per fault where vineyardd holds them already, and mapped
            # writable all the same (pages.py says why).
            populate_for_read(array)

    def _out_of_memory(self, name: str, nbytes: int) -> StepError:
        """Says why an allocation failed, measured before this commit's arrays are freed:
        afterwards the free memory would include them and could exceed what was asked for."""
        status = self.store.client.status
        limit = status.memory_limit
        free = limit - status.memory_usage
        taken = sum(array.nbytes for _, _, array in self.builders.values())
        self.abort()
        said = f"{name} needs {human(nbytes)} in one piece, {human(free)} of {human(limit)} is free"
        if taken:
            said += f" after this split's other arrays took {human(taken)}"
        if free >= nbytes:
            said += " but not in one piece (vineyardd's free memory is fragmented)"
        own = self.store.runs().get(self.run_id, 0)
        if own:
            # A rerun holds the new commit beside the current and the previous one.
            said += (
                f"; run {self.run_id!r}'s own current and previous commits hold {human(own)} "
                f"of it until this rerun is done (`cleanup --run-id {self.run_id}` frees them)"
            )
        return StepError(
            f"vineyard at {self.store.endpoint.socket} is out of shared memory: {said}; delete "
            "finished runs (`cleanup --run-id ...`) or give vineyardd more memory"
        )

    def commit(self, features: list[str]) -> dict:
        C = vineyard_c()
        client = self.store.client
        manifest = manifests.build(
            {name: array for name, (_, _, array) in self.builders.items()}, features, self.run_id
        )
        created = []  # what this commit made: deleted again if it does not complete
        renamed = {}  # name -> the object it named before (None: none), restored likewise
        published = False
        pending = self.store.name(self.run_id, PENDING)
        try:
            splits = C.ObjectMeta()
            splits["typename"] = "shmpipe::Splits"
            splits["manifest_"] = json.dumps(manifest)
            tensors = {}
            for name in list(self.builders):
                builder, stored_shape, _ = self.builders.pop(name)
                blob = builder.seal(_SealAs(client))
                created.append(blob.id)
                tensors[name] = client.create_metadata(
                    tensor_meta(blob, stored_shape, np.dtype(np.float64))
                )
                created.append(tensors[name].id)
                splits.add_member(name, tensors[name])
            splits = client.create_metadata(splits)
            created.append(splits.id)
            client.persist(splits.id)
            previous = self.store.lookup(self.run_id, SPLITS)
            faults.point("vineyard-commit")  # all objects created and persisted, none named yet
            # From here a kill leaves the whole commit named (the splits object holds every
            # object made): the next commit or cleanup deletes it.
            client.put_name(splits.id, pending)
            faults.point("vineyard-pending")
            for name, meta in tensors.items():
                full = self.store.name(self.run_id, name)
                renamed.setdefault(full, self.store.lookup(self.run_id, name))
                client.put_name(meta.id, full)
            faults.point("vineyard-names")  # tensors named, the splits not yet
            # The switch readers see: one name, one atomic update. From here the commit is
            # published, and a signal waits until the replaced commit is rotated. One that
            # lands before the deferral holds still rolls the commit back.
            with signals_deferred():
                published = True
                self._publish(splits.id, previous, pending)
        except BaseException:
            if not published:
                with signals_deferred():
                    self._roll_back(created, renamed)
            raise
        return manifest

    def _publish(self, splits_id, previous, pending: str) -> None:
        client = self.store.client
        older = None
        if previous is not None:
            # vineyardd frees a deleted object's memory even while a reader has it mapped,
            # and the next allocation reuses it under that reader (tests/reliability/
            # test_idempotence.py saw it). So the replaced commit stays, named, until the
            # next commit replaces this one: a reader has one rerun's time to finish.
            # Each object keeps a name at every step: `older` takes its second name before
            # `PREVIOUS` leaves it, `previous` keeps `<run>/splits` until `PREVIOUS` has it.
            older = self.store.lookup(self.run_id, PREVIOUS)
            if older is not None and older != previous:
                client.put_name(older, self.store.name(self.run_id, OLDER))
            client.put_name(previous, self.store.name(self.run_id, PREVIOUS))
        client.put_name(splits_id, self.store.name(self.run_id, SPLITS))
        faults.point("vineyard-switched")  # published, still named pending too
        client.drop_name(pending)
        if older is not None and older != previous:
            faults.point("vineyard-older")  # the replaced commit rotated, older not deleted
            self._delete(older)
            client.drop_name(self.store.name(self.run_id, OLDER))

    def sweep(self) -> None:
        """Free what a commit of this run killed after its first name left behind: its splits
        object still named `PENDING` and not published (deleted deep: it holds all the commit
        made), a commit named `OLDER` that is no longer named `<run>/splits` or `PREVIOUS`, and
        names whose object is gone. Each is deleted before its name is dropped, so a kill here
        too leaves it to the next sweep. Two writers of one run at once are not supported (no
        lock): one's sweep would delete the other's commit in progress."""
        client = self.store.client
        current = self.store.lookup(self.run_id, SPLITS)
        kept = {current, self.store.lookup(self.run_id, PREVIOUS)}
        for name in (PENDING, OLDER):
            object_id = self.store.lookup(self.run_id, name)
            if object_id is None:
                continue
            if object_id not in kept:
                self._delete(object_id)
            client.drop_name(self.store.name(self.run_id, name))
        for name, object_id in self.store.names(self.run_id, own_partition=True).items():
            if not client.exists(object_id):
                client.drop_name(name)

    def _delete(self, object_id) -> None:
        C = vineyard_c()
        try:
            self.store.client.delete(object_id, force=False, deep=True)
        except C.ObjectNotExistsException:
            pass  # deleted already, by a commit or cleanup killed before it dropped the name

    def _roll_back(self, created: list, renamed: dict) -> None:
        """Undo an interrupted commit: the names it moved go back, what it made is freed, and
        then its `PENDING` name goes (not before: a kill in between leaves it for `sweep`)."""
        C = vineyard_c()
        client = self.store.client
        for full, before in renamed.items():
            try:
                if before is not None:
                    client.put_name(before, full)
                    continue
            except C.ObjectNotExistsException:
                pass  # the name was left dangling by a killed commit: dropped instead
            client.drop_name(full)
        self.abort()
        for object_id in reversed(created):  # the splits first: deep, it takes its members
            self._delete(object_id)
        client.drop_name(self.store.name(self.run_id, PENDING))

    def abort(self) -> None:
        for builder, _, _ in self.builders.values():
            builder.abort(self.store.client)
        self.builders.clear()


class VineyardStore(Store):
    kind = "vineyard"

    def __init__(self, client, endpoint, partition: int | None = None):
        self.client = client
        self.endpoint = endpoint
        self.partition = partition
        self._held = []  # what `read` handed out: (splits object, run id, manifest, arrays)
        self.fetched: list[str] = []  # what `read` had to fetch from another vineyardd

    @classmethod
    def connect(
        cls, socket: str | None = None, start: bool = False, partition: int | None = None
    ) -> "VineyardStore":
        vineyard = Vineyard(socket)
        return cls(vineyard.connect(start), vineyard.endpoint, partition)

    def name(self, run_id: str, name: str) -> str:
        """The vineyard name of one of this store's objects (of its partition, if it has one)."""
        return f"{run_id}/{prefix(self.partition)}{name}"

    def location(self, run_id: str) -> str:
        objects = self.name(run_id, "*")
        return f"vineyard {self.endpoint.socket} ({self.endpoint.source}), objects {objects}"

    def names(self, run_id: str | None = None, own_partition: bool = False) -> dict:
        """The names this project wrote, of one run or of all, and their objects; matched
        exactly, not by a pattern built from a run id. `own_partition`: this store's
        partition's only (a writer's sweep leaves the other partitions' writers alone)."""
        listed = self.client.list_names("*", limit=1 << 20)
        mine = self.name(run_id or "", "")
        return {
            str(name): object_id
            for name, object_id in listed.items()
            if run_of(name) is not None
            and run_id in (None, run_of(name))
            and (not own_partition or _in_partition(str(name), mine))
        }

    def close(self) -> None:
        self.client.close()

    def runs(self) -> dict[str, int]:
        """The runs this store holds, with their bytes: the members of its splits objects (latest,
        previous, migrated copies); a splits object's own nbytes is 0."""
        sizes: dict[str, int] = {}
        seen = set()
        for name, object_id in self.names().items():
            run_id = run_of(name)
            sizes.setdefault(run_id, 0)
            if object_id in seen or not name.rsplit("/", 1)[1].startswith(SPLITS):
                continue
            seen.add(object_id)
            try:
                meta = self.client.get_meta(object_id)
            except Exception:  # noqa: BLE001 - deleted meanwhile: it holds nothing now
                continue
            sizes[run_id] += sum(int(m.nbytes) for _, m in meta.items() if hasattr(m, "nbytes"))
        return sizes

    def lookup(self, run_id: str, name: str):
        C = vineyard_c()
        try:
            return self.client.get_name(self.name(run_id, name))
        except C.ObjectNotExistsException:
            return None

    def _writer(self, run_id: str) -> VineyardWriter:
        writer = VineyardWriter(self, run_id)
        # Before the new commit allocates: what a killed one left is freed first.
        writer.sweep()
        return writer

    def read_array(self, name: str) -> np.ndarray:
        """Any vineyard Tensor by name, ours or a stock client's, zero-copy."""
        C = vineyard_c()
        try:
            return tensor_array(self.client.get_object(self.client.get_name(name)))
        except C.ObjectNotExistsException:
            raise StepError(f"no object named {name!r} in {self.location('')}") from None

    def _read(self, run_id: str, names: list[str]) -> tuple[dict[str, np.ndarray], dict]:
        splits = self._splits(run_id)
        where = f"{self.name(run_id, SPLITS)}'s manifest"
        manifest = manifests.parse(splits.meta.get("manifest_"), where)
        manifests.check(manifest, where, names)
        arrays = {}
        for name in names:
            # member() of a missing name raises a bare C++ error (NOTES.md, Tensors): one line.
            if not isinstance(splits.meta.get(name), type(splits.meta)):
                raise StepError(
                    f"{self.name(run_id, SPLITS)} is corrupt (it has no member {name!r}): "
                    "rerun preprocess"
                )
            try:
                array = tensor_array(splits.member(name))
            except StepError as e:
                raise StepError(f"{self.name(run_id, name)}: {e}; rerun preprocess") from None
            if manifest["arrays"][name].get("order") == "F":
                array = array.T
            manifests.verify(manifest, name, array, self.name(run_id, name))
            arrays[name] = array
        # The object, and the read-only views `verify_unchanged` checks again after use.
        self._held.append((splits, run_id, manifest, dict(arrays)))
        return arrays, manifest

    def verify_unchanged(self) -> None:
        for _, run_id, manifest, shared in self._held:
            for name, array in shared.items():
                manifests.verify_unchanged(manifest, name, array, run_id)

    def _splits(self, run_id: str):
        """The run's latest `<run>/splits` object, its blobs mapped in this instance."""
        C = vineyard_c()
        # A rerun or cleanup may replace or delete the object between lookup and get: look again.
        for _ in range(3):
            splits_id = self.lookup(run_id, SPLITS)
            if splits_id is None:
                raise StepError(
                    f"run {run_id!r} has no split in vineyard: object "
                    f"{self.name(run_id, SPLITS)!r} does not exist in the vineyard at "
                    f"{self.endpoint.socket} ({self.endpoint.source}); vineyardd loses its objects "
                    f"when it restarts, and `cleanup` deletes them: rerun `preprocess --sink "
                    f"vineyard --run-id {run_id}` against this vineyard, then this step"
                )
            try:
                splits = self.client.get_object(splits_id)
                if not splits.meta.islocal:
                    splits = self._migrate(run_id, splits_id)
                return splits
            except C.ObjectNotExistsException:
                continue
        raise StepError(
            f"{self.name(run_id, SPLITS)} keeps changing while read (a rerun or cleanup of run "
            f"{run_id!r} is in progress): rerun this step when it is done"
        )

    def _migrate(self, run_id: str, splits_id):
        """Copy a split written on another vineyardd (another node) into this one.

        Touching a remote blob's bytes aborts the process (packages/core/NOTES.md, Tensors), so
        remote objects are migrated first. The copy is named `<run>/splits@<instance>` so that
        `cleanup --run-id` finds and deletes it with the run's other objects; a copy of an
        earlier commit under that name is deleted, as the writer deletes the earlier commit.
        """
        C = vineyard_c()
        try:
            local = self.client.get_object(splits_id, fetch=True)
        except C.ObjectNotExistsException:
            raise  # replaced meanwhile: the caller looks the name up again
        except C.VineyardException as e:
            raise StepError(
                f"cannot fetch {self.name(run_id, SPLITS)} from the vineyardd that holds it "
                f"({type(e).__name__}: {' '.join(str(e).split())[:200]}): check that the "
                "vineyardd instances reach each other's RPC port, or run preprocess on this node"
            ) from None
        self.fetched.append(
            f"{self.name(run_id, SPLITS)} was on another vineyardd (another node): fetched into "
            f"instance {self.client.instance_id}"
        )
        name = self.name(run_id, f"{SPLITS}@{self.client.instance_id}")
        try:
            earlier = self.client.get_name(name)
        except C.ObjectNotExistsException:
            earlier = None
        if earlier is None or earlier != local.id:
            self.client.persist(local.id)
            self.client.put_name(local.id, name)
            if earlier is not None:
                try:
                    self.client.delete(earlier, force=False, deep=True)
                except C.ObjectNotExistsException:
                    pass
        return local

    def delete(self, run_id: str) -> list[str]:
        C = vineyard_c()
        names = self.names(run_id)
        # Drop the names first, so no reader starts on objects being deleted.
        for name in names:
            self.client.drop_name(name)
        ids = list(set(names.values()))
        for object_id in ids:
            try:
                self.client.delete(object_id, force=False, deep=True)
            except C.ObjectNotExistsException:
                pass  # a member of an object deleted just before
        return sorted(str(n) for n in names)
