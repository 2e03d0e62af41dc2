"""modalbridge.envs: built-in environments, registered with Gymnasium under ``modalbridge/``.

Kept out of the contract package (`modalbridge.bridges` imports neither
OpenCV nor this module). Importing it registers the ids::

    import modalbridge.envs
    env = gymnasium.make('modalbridge/CaptionRoom-v0')

Without the import, Gymnasium's ``module:id`` form imports it for you,
``gymnasium.make('modalbridge.envs:modalbridge/CaptionRoom-v0')``, and
`GymBridge` imports it itself for any ``modalbridge/`` id.
"""

import gymnasium

from modalbridge.envs.caption_room import CaptionRoom

ID = 'modalbridge/CaptionRoom-v0'
if ID not in gymnasium.registry:
    gymnasium.register(ID, entry_point='modalbridge.envs.caption_room:CaptionRoom',
                       max_episode_steps=None)

MEMORY_ID = 'modalbridge/CaptionRoomMemory-v0'
#: the memory variant's setting, as measured in examples/memory_task.py (each one a keyword to override)
MEMORY_KWARGS = dict(memory=True, delay=1, size=4, num_objects=3, max_steps=12)
if MEMORY_ID not in gymnasium.registry:
    gymnasium.register(MEMORY_ID, entry_point='modalbridge.envs.caption_room:CaptionRoom',
                       max_episode_steps=None, kwargs=MEMORY_KWARGS)

__all__ = [
    'MEMORY_ID',
    'MEMORY_KWARGS',
    'CaptionRoom',
    'ID',
]
