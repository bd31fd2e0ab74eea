"""The database tables, as SQLAlchemy 2.0 typed ORM classes.

One row of ``items`` per producer item; its current ``Prediction``; its ``ReviewMessage`` (the
outbox row, stored before anything is sent to Slack); append-only ``Review`` rows (an undo is a
new row pointing at the vote it takes back); the ``ModelVersion`` registry; ``TrainingExample``
keeps the labelled data a queue started from, so a retrain never needs the original file;
``ControlItem`` marks the items that are rows of it posted to measure reviewers; ``QueuePin``
records rollbacks, which hold a queue on a version until it is unpinned.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given; use datetime.now(UTC)")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON}


class Item(Base):
    __tablename__ = "items"
    __table_args__ = (UniqueConstraint("queue", "external_id", name="uq_items_queue_external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    queue: Mapped[str] = mapped_column(String(64))
    external_id: Mapped[str] = mapped_column(String(255))
    payload: Mapped[dict[str, Any]]  # {"features": {...}} or {"text": "..."}
    context: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    resolved_label: Mapped[str | None] = mapped_column(String(255))
    resolved_at: Mapped[datetime | None]
    #: The id people see in Slack when it is not ``external_id``: a control item shows the id
    #: its row had in the training file, so it looks like any other case (see ``shown_id``).
    display_id: Mapped[str | None] = mapped_column(String(255))

    prediction: Mapped[Prediction | None] = relationship(back_populates="item", uselist=False)
    message: Mapped[ReviewMessage | None] = relationship(back_populates="item", uselist=False)

    @property
    def shown_id(self) -> str:
        """The id shown to people: ``display_id`` for a control item, else the producer's id."""
        return self.display_id or self.external_id


class Prediction(Base):
    """The model's answer for an item and where it was routed.

    ``audit_probability`` is the chance the item was shown to people given its confidence
    (1 for review, ``audit_rate`` for confident ones): accuracy estimates weight by its inverse.
    """

    __tablename__ = "predictions"

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), unique=True)
    model_version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id"))
    label: Mapped[str] = mapped_column(String(255))
    confidence: Mapped[float] = mapped_column(Float)
    route: Mapped[str] = mapped_column(String(8), index=True)  # review | audit | auto | gold
    audit_probability: Mapped[float] = mapped_column(Float)
    scored_at: Mapped[datetime] = mapped_column(default=utcnow)
    # What the model thought when it decided: [{"feature", "value", "contribution"}], strongest
    # first; and what was odd about the input ([{"code", "fields", "message"}]). None before 0003.
    explanation: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    warnings: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)

    item: Mapped[Item] = relationship(back_populates="prediction")
    model_version: Mapped[ModelVersion] = relationship()


class ReviewMessage(Base):
    """The outbox: one row per item to show people, written before Slack is called.

    state: ``waiting`` (not posted yet: new, over ``max_open``, or to retry at
    ``next_attempt_at``), ``sending`` (claimed by a deliverer), ``posted`` (in the channel,
    unresolved), ``resolved``, ``failed`` (gave up; ``hitl clock`` retries).
    """

    __tablename__ = "review_messages"
    __table_args__ = (Index("ix_review_messages_queue_state", "queue", "state"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), unique=True)
    queue: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16), default="waiting")
    priority: Mapped[float] = mapped_column(Float)  # higher goes out first
    ts: Mapped[str | None] = mapped_column(String(32))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime | None]
    claimed_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    posted_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    reminded_at: Mapped[datetime | None]
    escalated_at: Mapped[datetime | None]
    # Set when a post ended without a clear answer (timeout, 5xx): Slack may have posted it, so
    # the channel is searched for the message (by its metadata) before it is posted again.
    unclear_since: Mapped[datetime | None]

    item: Mapped[Item] = relationship(back_populates="message")


class Review(Base):
    """One human act on an item, never updated: a vote, or the undo of an earlier vote."""

    __tablename__ = "reviews"
    __table_args__ = (
        UniqueConstraint("item_id", "request_key", name="uq_reviews_item_request"),
        Index("ix_reviews_item_id", "item_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(8))  # vote | undo | note
    label: Mapped[str | None] = mapped_column(String(255))
    undoes_id: Mapped[int | None] = mapped_column(ForeignKey("reviews.id"))
    source: Mapped[str] = mapped_column(String(32))  # slack_button, slack_command, api, ...
    request_key: Mapped[str] = mapped_column(String(128))  # makes Slack retries idempotent
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class ModelVersion(Base):
    """A trained pipeline as a skops artifact, with what it was trained on and how it scored."""

    __tablename__ = "model_versions"
    __table_args__ = (UniqueConstraint("queue", "number", name="uq_model_versions_queue_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    queue: Mapped[str] = mapped_column(String(64))
    number: Mapped[int] = mapped_column(Integer)
    version: Mapped[str] = mapped_column(String(64), unique=True)  # the public model_version
    kind: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))  # current | retired | rejected
    # Deferred: the current version is read on every scoring call, the bytes only on a cache miss.
    artifact: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    sha256: Mapped[str] = mapped_column(String(64))
    labels: Mapped[dict[str, Any]]  # {"labels": [...]}: the classes in queue order
    n_train: Mapped[int] = mapped_column(Integer)
    metrics: Mapped[dict[str, Any]]
    info: Mapped[dict[str, Any]]  # sklearn version, random_state, data window, gate reason
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    promoted_at: Mapped[datetime | None]


class TrainingExample(Base):
    """The labelled data a queue started from; ``split`` is ``train`` or ``holdout`` (trusted)."""

    __tablename__ = "training_examples"
    __table_args__ = (Index("ix_training_examples_queue_split", "queue", "split"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    queue: Mapped[str] = mapped_column(String(64))
    external_id: Mapped[str | None] = mapped_column(String(255))
    payload: Mapped[dict[str, Any]]
    label: Mapped[str] = mapped_column(String(255))
    split: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Outcome(Base):
    """Late ground truth for an item (a chargeback, a complaint); it wins over reviewers' votes."""

    __tablename__ = "outcomes"
    __table_args__ = (UniqueConstraint("item_id", name="uq_outcomes_item"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"))
    label: Mapped[str] = mapped_column(String(255))
    source: Mapped[str | None] = mapped_column(String(255))
    observed_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ContextKey(Base):
    """A context name a queue's items have carried, so a config name that is neither a feature
    of the model nor ever seen in context can be pointed out."""

    __tablename__ = "context_keys"

    queue: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    first_seen_at: Mapped[datetime] = mapped_column(default=utcnow)


class ControlItem(Base):
    """An item that is a row of the queue's trusted labelled data, posted to measure reviewers.

    ``example_key`` (a hash of the row's payload) is unique per queue: a row is posted at most
    once, so nobody is shown the same control case twice. ``label`` is the row's true label,
    kept here so a later `hitl train` replacing the training data cannot lose it.
    """

    __tablename__ = "control_items"
    __table_args__ = (
        UniqueConstraint("queue", "example_key", name="uq_control_items_queue_example"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), unique=True)
    queue: Mapped[str] = mapped_column(String(64))
    example_key: Mapped[str] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class QueuePin(Base):
    """A rollback: the queue stays on ``version`` until ``unpinned_at`` (`hitl unpin`).

    Rows are kept after unpinning, so the digest can tell who rolled back to what and when.
    """

    __tablename__ = "queue_pins"
    __table_args__ = (Index("ix_queue_pins_queue", "queue"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    queue: Mapped[str] = mapped_column(String(64))
    version: Mapped[str] = mapped_column(String(64))
    pinned_by: Mapped[str] = mapped_column(String(255))
    pinned_at: Mapped[datetime] = mapped_column(default=utcnow)
    unpinned_by: Mapped[str | None] = mapped_column(String(255))
    unpinned_at: Mapped[datetime | None]


class ClockLease(Base):
    """Which `hitl clock` may act on SQLite (PostgreSQL uses an advisory lock instead)."""

    __tablename__ = "clock_leases"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    holder: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime]


class JobRun(Base):
    """One scheduled run of a `hitl clock` job: a (job, slot) pair is claimed once, so a weekly
    digest or a scheduled retrain runs once per slot even if two clocks overlap."""

    __tablename__ = "job_runs"

    job: Mapped[str] = mapped_column(String(128), primary_key=True)
    slot: Mapped[datetime] = mapped_column(primary_key=True)
    holder: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)


class PrivateCard(Base):
    """An item `/hitl next` showed to someone as a private (ephemeral) card: a click on such a
    card counts only for that item and that person (Slack keeps no copy we could look up)."""

    __tablename__ = "private_cards"

    user_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    item_id: Mapped[int] = mapped_column(
        ForeignKey("items.id", ondelete="CASCADE"), primary_key=True
    )
    shown_at: Mapped[datetime] = mapped_column(default=utcnow)
