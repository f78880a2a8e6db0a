"""The live loop: camera (or file) in, stylized window out, with hotkeys, HUD and recording.

``keys`` the pure key state machine, ``capture`` the newest-frame capture
thread, ``styleslots`` the styles reduced to statistics in the background,
``hud`` the overlays, ``outputs`` recording, virtual camera and screenshots
(``recorder`` the H.264 recorder, ``virtualcam`` the
optional virtual camera), ``window`` the OpenCV window, ``loop`` ties them
together, and ``bench`` measures it (python -m stylecam.live.bench).
"""
