"""Import of companies, contacts, private customers and leads from CSV and XLSX.

reader: the file as a header and a stream of rows (encodings, dialects, XLSX)
fields: what each entity's columns mean, header matching, cell and row parsing
parallel: row parsing in worker processes, for large files
engine: the dry run and the set-based write, one batch at a time
jobs:   the import job in the database, its worker thread, cancel and undo
"""
