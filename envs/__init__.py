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
if MEMORY_ID not in gymnasium.registry:
    gymnasium.register(MEMORY_ID, entry_point='modalbridge.envs.caption_room:CaptionRoom',
                       max_episode_steps=None, kwargs=dict(memory=True))

__all__ = [
    'MEMORY_ID',
    'CaptionRoom',
    'ID',
]
