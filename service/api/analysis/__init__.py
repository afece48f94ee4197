"""From an accepted request to task results: input reading, preprocessing, media encoding, engine calls, parsing."""
