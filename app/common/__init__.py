"""Small pieces that several apps, and both sides (web and worker), build on."""
