"""Test doubles that ship with supportbot (like httpx's MockTransport): fakes, not mocks."""
