"""The application layer both services share (应用层): how a change reaches the database.

- `bootstrap`: the collaborators (database, caches, survey links) built once per process, for
  the API's lifespan and the SLA worker's `on_startup` alike.
- `unit_of_work`: one obvious way to run a read (`uow.read()`) and a change (`uow.change()`).
- `complaint_changes`: the one pipeline every complaint change goes through — stamp the
  events the domain decided, derive their effects (deadlines, outbox, audit), write.
- `sweep` and `recompute`: the SLA worker's and the calendar's changes, on that pipeline.

`shared.domain` decides; `shared.db` holds tables, repositories and SQL; this package wires
the two and is the only place that calls the domain's decision functions for a change.
"""
