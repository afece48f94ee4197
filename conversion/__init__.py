"""Offline checkpoint tools of the engine environment: `facellava convert` (the three downloaded folders -> one
serving folder) and `facellava tiny-checkpoint` (a random tiny model in the downloaded layouts). Nothing here runs
inside the engine: the serving model (model/) never imports this package, it only reads the folder it writes
(model/serving_format.py is the contract between the two)."""
