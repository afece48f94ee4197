"""Response header names the chat route sets and the CORS middleware exposes to browser scripts.

They live here, not in the route, so that a middleware never imports a route module.
"""

LANDMARKS_HEADER = "X-Facellava-Landmarks-Conditioned"
FACE_HEADER, FACES_HEADER = "X-Facellava-Face", "X-Facellava-Faces"  # the face used, of how many found
