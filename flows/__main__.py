from flows.cli import main

# Guarded: the embedding worker's process (spawn) imports the parent's main module again.
if __name__ == "__main__":
    main()
