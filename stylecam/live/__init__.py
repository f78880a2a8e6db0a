"""The live loop: camera (or file) in, stylized window out, with hotkeys, HUD and recording.

``keys`` is the pure key state machine, ``capture`` the newest-frame capture
thread, ``hud`` the overlays, ``recorder`` the H.264 recorder, ``styleslots``
the background style loading, ``outputs`` the virtual camera, and ``loop`` ties
them together.
"""
