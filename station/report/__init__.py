"""`station report`: a rollout report read from the store only (SQLite or a fleet's PostgreSQL).

``rows`` reads what the report needs (never a PIN escrow, credential or attestation), ``build`` computes it
for a date range, ``charts`` draws its inline SVG charts, ``page`` renders the self-contained HTML (no script,
no outside resource: it opens anywhere offline) and ``flat`` the JSON and CSV forms.
"""
