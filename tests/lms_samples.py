"""Files as learning-management systems write them, shared by the tests that read them."""

from __future__ import annotations

# A Gradescope export's submission_metadata.yml: a group of two (Carol Xu first), and a
# submitter without a SID.
GRADESCOPE_METADATA = """\
submission_111:
  :submitters:
  - :name: Carol Xu
    :sid: '1001'
    :email: carol@uni.example
  - :name: Zoë Brandt
    :sid: '1002'
    :email: zoe@uni.example
  :created_at: 2024-03-01 12:34:56.789000000 -08:00
submission_222:
  :submitters:
  - :name: Dan Ho
    :sid:
    :email: dan@uni.example
"""
