# Operator shortcuts (seed: Helionyx M4). ENV picks the environment's configuration:
# the variables of .env.$(ENV) are loaded on top of the process environment, and
# BULWARK_ENV is set to $(ENV). Examples:
#   make backup ENV=live
#   make restore ENV=dev BACKUP=20261207T010000Z            # into DATABASE_URL's database
#   make restore ENV=dev BACKUP=20261207T010000Z INTO=scratch FORCE=1
#   make verify ENV=live BACKUP=20261207T010000Z
# A live restore also needs CONFIRM=<database name> (passed as --confirm).
ENV ?= dev
ENV_FILE := .env.$(ENV)
BULWARK := node bin/bulwark.js
# set -a exports everything the env file assigns; a missing file is an error, not dev's defaults.
LOAD = set -a; if [ -f "$(ENV_FILE)" ]; then . "$(abspath $(ENV_FILE))"; else echo "no $(ENV_FILE): create it (see .env.example)" >&2; exit 2; fi; BULWARK_ENV=$(ENV); set +a

.PHONY: backup backup-list verify restore

backup:
	@$(LOAD); $(BULWARK) backup create $(if $(TENANT),--tenant $(TENANT))

backup-list:
	@$(LOAD); $(BULWARK) backup list

verify:
	@test -n "$(BACKUP)" || { echo "BACKUP=<id> is required, e.g. BACKUP=20261207T010000Z" >&2; exit 2; }
	@$(LOAD); $(BULWARK) backup verify $(BACKUP)

# INTO defaults to the database DATABASE_URL names (then FORCE=1 is needed if it is not empty).
restore:
	@test -n "$(BACKUP)" || { echo "BACKUP=<id> is required, e.g. BACKUP=20261207T010000Z" >&2; exit 2; }
	@$(LOAD); into="$(INTO)"; [ -n "$$into" ] || into="$$DATABASE_URL"; \
	  $(BULWARK) backup restore $(BACKUP) --into "$$into" $(if $(FORCE),--force) $(if $(CONFIRM),--confirm $(CONFIRM))
