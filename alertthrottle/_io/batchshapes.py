"""Each row's shape in a traffic reader's shape table, for a columnar file's record batches.

A clean batch gives its distinct (device id, code, recipients) as positions in its
dictionaries (:class:`~.columnar.Shapes`), each packed in one int key when the
dictionaries are small enough. While the batches' dictionaries repeat (a row group's
batches; a new row group's with the same device ids, the known keys moved to its
positions), a shape met before is found by that key, with no tuple of its values built
or hashed, and the keys not met are added at once as new shapes when none can be in the
table already. Else a batch's shapes are found by value (device id, code, recipients)
and the new ones added. What is known here is about one table: the reader starts it
again (:meth:`BatchShapes.reset`) with each new table.
"""

from __future__ import annotations

import collections
import itertools
import operator
from typing import Any, cast

from .._core.columns import gather, positions_of
from .._core.errors import InvalidAlertError
from .._core.shapes import ShapeTable
from .columnar import Shapes, moved_keys

__all__ = ["BatchShapes"]

#: Batch keys (Shapes.keys) a columnar reader remembers with their shapes: one a shape
#: but for other spellings of its values, so about the shapes of a table (some 100 bytes
#: each); all forgotten when more.
_SHAPE_KEYS = 1 << 18

#: A shape: (device id, code, recipients).
_Key = tuple[str, int, tuple[str, ...]]
#: A batch's values at the positions of its scope (Shapes.scope): canonical device ids,
#: codes, recipient lists (None without the column).
_Values = tuple[list[str], list[int], list[tuple[str, ...]] | None]


def _each_once(values: list[Any]) -> bool:
    """Whether no value (hashable) is in ``values`` twice."""
    return len(set(values)) == len(values)


class BatchShapes:
    """The shapes of a reader's table known by value and by key, for its record batches.

    ``shapes`` gives each row of a batch its shape (adding the new ones to the table),
    ``one_spelling`` tells whether a batch's device ids are each one device, and
    ``reset`` starts again with a new table.
    """

    __slots__ = (
        "_keyed",
        "_keyed_all",
        "_scope",
        "_shape_of",
        "_spellings",
        "_synced",
        "_table",
        "_values",
    )

    def __init__(self, table: ShapeTable) -> None:
        #: The table whose shapes are known here (the reader's).
        self._table = table
        #: A columnar batch's shapes in ``_table`` by (device id, code, recipients): the
        #: table's first ``_synced`` (see _by_value).
        self._shape_of: dict[_Key, int] = {}
        self._synced = 0
        #: The table's shapes by their key (Shapes.keys) in batches of the scope ``_scope``;
        #: ``_keyed_all``: every shape of the table has its key there (a scope's batches
        #: all have keys, or none has: then it is not used, and no key is moved from it).
        self._keyed: dict[int, int] = {}
        self._scope: tuple[Any, ...] = ()
        self._keyed_all = True
        #: The values at the positions of the last batch's scope (see _keyed_in).
        self._values: _Values = ([], [], None)
        #: The last batch's canonical device ids and whether no two of them are one device.
        self._spellings: tuple[list[str], bool] | None = None

    def reset(self, table: ShapeTable) -> None:
        """Start again with ``table``, new and empty: no shape known by value or by key
        (the last batch's scope, values and spellings are kept)."""
        self._table = table
        self._shape_of.clear()
        self._synced = 0
        self._keyed.clear()
        self._keyed_all = True

    def shapes(
        self,
        shaped: Shapes,
        found: list[str],
        codes: list[int],
        lists: list[tuple[str, ...]] | None,
    ) -> tuple[int, ...]:
        """Each row's shape in the table (which has room for all of the batch's), from a
        batch's distinct (device, code, recipients) positions: by key when met in a batch
        before, else added at once as new (:meth:`_new_keyed`) or by value
        (:meth:`_by_value`)."""
        count = len(shaped)
        # (The last of lists is a null row's: there is none in a batch with shapes.)
        keyed = self._keyed_in(shaped, (found, codes, None if lists is None else lists[:-1]))
        keys = shaped.keys
        shapes: list[int | None]
        shapes = [None] * count if keys is None else list(map(keyed.get, keys))
        if None in shapes:
            missing = list(positions_of(shapes, None))
            if keys is None or not self._new_keyed(shaped, missing, shapes, found, codes, lists):
                self._by_value(shaped, missing, shapes, found, codes, lists)
        # The table's own int objects, which shaped_columns checks by identity; a tuple,
        # whose slices shaped_columns takes as they are (a list's it copies).
        return gather(cast("list[int]", shapes), shaped.positions)

    def one_spelling(self, found: list[str]) -> bool:
        """Whether no two of a batch's device ids (``found``, canonical) are one device: the
        last batch's answer when ``found`` is the very list it had (a repeated dictionary)."""
        last = self._spellings
        if last is None or last[0] is not found:  # held, so no other list has its id
            last = self._spellings = (found, _each_once(found))
        return last[1]

    def _keyed_in(self, shaped: Shapes, values: _Values) -> dict[int, int]:
        """The shapes known by key for batches of ``shaped``'s scope (the same objects as the
        last batch's), whose positions' values (device ids, codes, recipient lists) are
        ``values``. For another scope with the same device ids (other recipients or codes:
        a new row group's), the keys are moved to it (:meth:`_moved`), else started
        again, as when full (then every shape of the table has its key there only if
        it has no shape yet)."""
        scope = shaped.scope
        keyed = self._keyed
        if len(scope) != len(self._scope) or not all(map(operator.is_, scope, self._scope)):
            moved = None
            if keyed and scope[0] is self._scope[0]:
                moved = self._moved(scope, values)
            if moved is None or len(moved) < len(keyed):
                # (A shape whose key is left out may come in a later batch's scope.)
                self._keyed_all = not len(self._table)
            keyed.clear()
            keyed.update(moved or ())
            self._scope = scope
        if len(keyed) + len(shaped) > _SHAPE_KEYS:
            keyed.clear()
            self._keyed_all = not len(self._table)
        self._values = values
        return keyed

    def _moved(self, scope: tuple[Any, ...], values: _Values) -> dict[int, int] | None:
        """The shapes known by key in the last batch's scope, by their keys in ``scope``
        (each part's position moved to that of the same value there; a shape with a
        value not there left out, as no batch of the scope can have it); None if a code
        is taken as it is in one scope only."""
        moves: list[list[int] | None] = []
        for old, new, before, now in zip(self._scope, scope, self._values, values, strict=False):
            if old is new:
                moves.append(None)
            elif old is None or new is None or before is None or now is None:
                return None
            else:
                at = dict(zip(now, range(len(now)), strict=False))
                moves.append(list(map(at.get, before, itertools.repeat(-1))))
        keyed = self._keyed
        keys = moved_keys(list(keyed), self._scope, scope, moves)
        moved = dict(zip(keys, keyed.values(), strict=True))
        moved.pop(None, None)
        return cast("dict[int, int]", moved)

    def _new_keyed(
        self,
        shaped: Shapes,
        missing: list[int],
        shapes: list[int | None],
        found: list[str],
        codes: list[int],
        lists: list[tuple[str, ...]] | None,
    ) -> bool:
        """Add the shapes at ``missing`` (keys not met) to the table at once and fill them in,
        when each is new for sure: every shape of the table has its key, and no two
        positions of the scope are one value (two spellings of a device id or a code,
        of a recipient list), so a key not met is a shape not in the table. Else, or if
        the table refuses them, False (adding none)."""
        if not (
            self._keyed_all
            and self.one_spelling(found)
            and _each_once(codes)
            and (lists is None or _each_once(lists[:-1]))  # (the null row's left out)
        ):
            return False
        keys = gather(cast("list[int]", shaped.keys), missing)
        firsts: dict[int, int] = {}  # each new key's first shape, in order
        collections.deque(map(firsts.setdefault, keys, missing), 0)
        table = self._table
        start = len(table)
        added = list(range(start, start + len(firsts)))
        columns = shaped.columns(list(firsts.values()))
        names = gather(lists, columns[2]) if lists is not None else ((),) * len(added)
        try:
            table.add_many(gather(found, columns[0]), gather(codes, columns[1]), names, added)
        except InvalidAlertError:
            return False
        keyed = self._keyed
        keyed.update(zip(firsts, added, strict=True))
        collections.deque(map(shapes.__setitem__, missing, map(keyed.__getitem__, keys)), 0)
        return True

    def _by_value(
        self,
        shaped: Shapes,
        missing: list[int],
        shapes: list[int | None],
        found: list[str],
        codes: list[int],
        lists: list[tuple[str, ...]] | None,
    ) -> None:
        """Fill in the shapes at ``missing`` by their (device id, code, recipients): looked up
        in ``_shape_of`` (first given the table's shapes added by key), the new ones added."""
        table = self._table
        if self._synced < len(table):
            at = self._synced
            ids, numbers = table.device_ids[at:], table.codes[at:]
            values = zip(ids, numbers, table.recipients[at:], strict=True)
            self._shape_of.update(zip(values, table.positions[at:], strict=True))
        keys: list[_Key]
        if lists is None:
            keys = [(found[device], codes[code], ()) for device, code, _ in shaped.values(missing)]
        else:
            keys = [(found[d], codes[c], lists[n]) for d, c, n in shaped.values(missing)]
        added: list[int | None] = list(map(self._shape_of.get, keys))
        if None in added and not self._add_batch_shapes(keys, added):
            added = list(self._add_shapes_one_by_one(keys))
        self._synced = len(table)
        collections.deque(map(shapes.__setitem__, missing, added), 0)
        if shaped.keys is not None:  # (all filled in now)
            found_shapes = cast("list[int]", added)
            self._keyed.update(zip(gather(shaped.keys, missing), found_shapes, strict=True))

    def _add_batch_shapes(self, keys: list[_Key], shapes: list[int | None]) -> bool:
        """Fill in the new shapes (None) of a batch's ``keys``, added to the table at once
        with the indices handed out here (a key twice gets one); False, adding none, if
        the table will not take them (then they are added one by one, as before)."""
        table = self._table
        start = len(table)
        new: dict[_Key, int] = {}
        for i in positions_of(shapes, None):
            key = keys[i]
            shape = new.get(key)
            if shape is None:
                shape = new[key] = start + len(new)
            shapes[i] = shape
        ids, numbers, names = zip(*new, strict=True)
        try:
            table.add_many(ids, numbers, names, list(new.values()))
        except InvalidAlertError:
            return False
        self._shape_of.update(new)
        return True

    def _add_shapes_one_by_one(self, keys: list[_Key]) -> list[int]:
        """Each of a batch's ``keys`` looked up, or added to the table as a shape."""
        table, known = self._table, self._shape_of
        shapes = []
        for key in keys:
            shape = known.get(key)
            if shape is None:
                shape = known[key] = table.add(*key)
            shapes.append(shape)
        return shapes
