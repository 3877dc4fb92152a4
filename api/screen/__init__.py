"""The alert wall screen's static page (HTML, JS, CSS in this folder) and the font it is served with."""
