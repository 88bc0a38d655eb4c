import io

from documents.services import document_receive


def receive(data: bytes, name: str = "file.txt", **kwargs):
    """A document received from bytes, as an upload would (its job submitted unless submit=False)."""
    return document_receive(stream=io.BytesIO(data), original_name=name, **kwargs)
