"""Imports: one path for files, the command line, the API and the Celery task.

Every row read ends as exactly one of created / updated / unchanged / rejected, so the counts
always add up to the rows read. Rows are validated and written a chunk at a time: each chunk
preloads what it needs to match (customers by external id, email and phone; products by SKU;
orders by order id) in a few queries and writes with bulk statements (orders on PostgreSQL: COPY
into staging tables and set-based SQL, see ``intake.staging``), so the number of queries does not grow
with the rows in a chunk, and memory does not grow with the file. The next chunks are read and
validated in a thread while the database writes the current one (``intake.readahead``).

Re-importing a file changes nothing: customers match on external id, then normalised email, then
phone; products on SKU; orders on order id; feedback and interactions (which have no id in the
source systems) on their customer, time and content.

A row whose identity key (customer id, SKU, order id + SKU, ...) appeared earlier anywhere in
the file is rejected naming that line (``intake.seen`` keeps the keys compactly). The lines of one
order must be next to each other in a file longer than a chunk; they always are in ERP and shop
exports (a stray later line of an order with the same SKU is rejected as a duplicate).

``cleaning`` parses the cells of each row, ``importers`` matches and writes them per kind, and
``jobs`` runs them from files: the preview, the upload and the job a worker runs under a lease.
"""
