"""What every reader's marshmallow schema shares: one set of rules for a fast path and a full load.

A schema says how to repair its input (``_prepare``), check the whole object (``_validate``) and
build the model (``_build``); :class:`BaseSchema` runs those rules on a fast path and, on any error,
through marshmallow's full load, which reports every bad path at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from marshmallow import EXCLUDE, Schema, ValidationError, post_load, pre_load, validates_schema

from ga_ee_bridge.readers._fields import LenientField, discard_since, mark

__all__ = ["BaseSchema", "blank"]


class BaseSchema(Schema):
    """Base of every reader's schema: marshmallow's hooks and a fast path share one set of rules.

    ``_prepare`` repairs the input, ``_validate`` checks the whole object, ``_build`` makes the
    model.
    ``load`` first tries a fast path that reads only the keys present; on any error it runs
    marshmallow's full load, which reports every bad path at once.
    """

    strict: ClassVar[bool]
    #: A schema class built at run time (cached per mode) says how to build it again when
    #: unpickled: ``(factory, args)`` (plain ``pickle`` cannot find such a class by name).
    rebuild: ClassVar[tuple[Any, tuple[Any, ...]] | None] = None

    class Meta:
        unknown = EXCLUDE

    def __init__(self) -> None:
        super().__init__()
        self._by_key = {
            field.data_key or name: (name, field) for name, field in self.load_fields.items()
        }
        #: key -> (name, the field's ``_read``) for the leaf fields whose ``_deserialize`` is
        #: ``_read`` when it does not raise: the fast path calls it at once.
        self._reads = {
            key: (name, field._read)  # type: ignore[attr-defined]
            for key, (name, field) in self._by_key.items()
            if type(field)._deserialize is LenientField._deserialize
        }

    def __reduce_ex__(self, protocol: Any) -> Any:
        """Pickled as the factory call that built it (see :attr:`rebuild`), else as usual."""
        if self.rebuild is not None:
            return self.rebuild
        return super().__reduce_ex__(protocol)

    def load(self, data: Any, **kwargs: Any) -> Any:
        """Load ``data`` into the model; raises ``ValidationError`` with every error found.

        The values dropped on the way (lenient mode) are reported once, and only for a load that
        succeeds: a fast path that fails, or a load that raises, reports none.
        """
        since = mark()
        if not kwargs and isinstance(data, Mapping):
            try:
                return self._fast_load(data)
            except ValidationError:
                discard_since(since)
        try:
            return super().load(data, **kwargs)
        except ValidationError:
            discard_since(since)
            raise

    def _fast_load(self, original: Mapping[str, Any]) -> Any:
        data = self._prepare(original)
        result: dict[str, Any] = {}
        by_key = self._by_key
        reads = self._reads
        for key, value in data.items():
            entry = by_key.get(key)
            if entry is None:
                continue
            name, field = entry
            if value is None:
                result[name] = None
                continue
            read = reads.get(key)
            if read is not None:
                try:
                    result[name] = read[1](value)
                    continue
                except ValidationError:
                    pass  # the field's own _deserialize warns (lenient) or raises (strict)
            result[name] = field._deserialize(value, key, data)
        self._validate(result, original)
        return self._build(result, original)

    @pre_load
    def _pre_load(self, data: Any, **_: Any) -> Any:
        return self._prepare(data)

    @validates_schema(pass_original=True, skip_on_field_errors=False)
    def _validates(self, data: dict[str, Any], original: Any, **_: Any) -> None:
        if isinstance(original, Mapping):
            self._validate(data, original)

    @post_load(pass_original=True)
    def _post_load(self, data: dict[str, Any], original: Mapping[str, Any], **_: Any) -> Any:
        return self._build(data, original)

    def _absent(
        self, data: dict[str, Any], original: Mapping[str, Any], key: str, name: str | None = None
    ) -> bool:
        """True when ``key`` is absent: blank as pushed or, in lenient mode, dropped as unreadable
        (``name`` is its loaded attribute, default ``key``). An id that cannot be read is no id."""
        if blank(original.get(key)):
            return True
        return not self.strict and data.get(key if name is None else name) is None

    def _prepare(self, data: Any) -> Any:
        return data

    def _validate(self, data: dict[str, Any], original: Mapping[str, Any]) -> None:
        return None

    def _build(self, data: dict[str, Any], original: Mapping[str, Any]) -> Any:
        raise NotImplementedError


def blank(value: Any) -> bool:
    """True for what GA treats as an omitted field: missing, null or empty text."""
    return value is None or (isinstance(value, str) and not value.strip())
