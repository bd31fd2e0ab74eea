"""The loop's core: ingest, delivery (the outbox), answers, cards and their Block Kit,
reviewers, notes, outcomes, reminders."""
