"""Pure numbers code for customer intelligence.

Nothing in this package imports Django or reads the wall clock: every function takes pandas
frames and an explicit ``as_of`` timestamp, so a run can be replayed and backtested. The frames
are described in :mod:`analytics.engine.frames`; the ORM adapter in ``analytics`` builds them.
"""
